// An independent OpenID Connect relying party: openid-client (panva) completes the
// authorization code + PKCE flow against Tessera from discovery alone, posting the login form
// with fetch (no browser), then calls UserInfo and refreshes. Prints what it verified as JSON.
//
//   node oidc_rp.mjs ISSUER CLIENT_ID REDIRECT_URI EMAIL PASSWORD
import * as client from 'openid-client';
import { signIn } from './login_form.mjs';

const [issuer, clientId, redirectUri, email, password] = process.argv.slice(2);

const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), {
  execute: [client.allowInsecureRequests], // the test server speaks plain http on 127.0.0.1
});

const codeVerifier = client.randomPKCECodeVerifier();
const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
const state = client.randomState();
const nonce = client.randomNonce();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email offline_access',
  code_challenge: codeChallenge,
  code_challenge_method: 'S256',
  state,
  nonce,
});

// The user's side: open the login page, keep its cookies, post the form.
const { location } = await signIn(authorizationUrl, issuer, email, password);

// Back at the relying party: the library checks state, iss, the ID token and PKCE.
const tokens = await client.authorizationCodeGrant(config, new URL(location), {
  pkceCodeVerifier: codeVerifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);

console.log(JSON.stringify({
  id_token_claims: claims,
  userinfo,
  scope: tokens.scope,
  refresh_rotated: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
  refreshed_id_token_sub: refreshed.claims()?.sub,
}, null, 2));
