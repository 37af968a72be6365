// Pushed authorization requests (RFC 9126) by an independent relying party: openid-client
// (panva; its PAR is oauth4webapi's pushedAuthorizationRequest) finds the PAR endpoint by
// discovery, pushes the request (authenticated with HTTP Basic, or as a public client),
// sends the "browser" with client_id and request_uri only, and redeems the code. Then it
// checks the request_uri cannot be used again. Prints what it saw as JSON.
//
//   node oidc_rp_par.mjs ISSUER CLIENT_ID CLIENT_SECRET|- REDIRECT_URI EMAIL PASSWORD
import * as client from 'openid-client';
import { signIn } from './login_form.mjs';

const [issuer, clientId, secret, redirectUri, email, password] = process.argv.slice(2);
const auth = secret === '-' ? client.None() : client.ClientSecretBasic(secret);

const config = await client.discovery(new URL(issuer), clientId, undefined, auth, {
  execute: [client.allowInsecureRequests], // the test server speaks plain http on 127.0.0.1
  timeout: 10,
});

const codeVerifier = client.randomPKCECodeVerifier();
const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
const state = client.randomState();
const nonce = client.randomNonce();
const authorizationUrl = await client.buildAuthorizationUrlWithPAR(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email',
  code_challenge: codeChallenge,
  code_challenge_method: 'S256',
  state,
  nonce,
});

const { location, request } = await signIn(authorizationUrl, issuer, email, password);
const tokens = await client.authorizationCodeGrant(config, new URL(location), {
  pkceCodeVerifier: codeVerifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});

// Used once: the same authorization URL again (another browser, no cookies) is refused.
const again = await fetch(authorizationUrl, { redirect: 'manual' });

console.log(JSON.stringify({
  par_endpoint: config.serverMetadata().pushed_authorization_request_endpoint,
  authorization_query: [...authorizationUrl.searchParams.keys()].sort(),
  request_uri: authorizationUrl.searchParams.get('request_uri'),
  posted_request: request,
  id_token_claims: tokens.claims(),
  token_type: tokens.token_type,
  again_status: again.status,
  again_location: again.headers.get('location'),
}, null, 2));
