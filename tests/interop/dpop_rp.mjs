// DPoP with an independent client: openid-client 6 (on oauth4webapi) makes the proofs. It runs
// the authorization code + PKCE flow with a DPoP key (ES256), calls UserInfo with the DPoP
// scheme, refreshes (the public client's refresh token is bound to the key), and a
// confidential client gets a DPoP-bound client-credentials token. With nonces required, the
// library's own use_dpop_nonce retry is exercised. Prints what it saw as JSON.
//
//   node dpop_rp.mjs ISSUER CLIENT_ID REDIRECT_URI EMAIL PASSWORD CC_ID CC_SECRET
import * as client from 'openid-client';
import { signIn } from './login_form.mjs';

const [issuer, clientId, redirectUri, email, password, ccId, ccSecret] = process.argv.slice(2);
const insecure = { execute: [client.allowInsecureRequests] }; // plain http on 127.0.0.1

const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), insecure);
const keyPair = await client.randomDPoPKeyPair('ES256');
const DPoP = client.getDPoPHandle(config, keyPair);

const codeVerifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid email offline_access',
  code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
  code_challenge_method: 'S256',
  state,
});

// The user's side: the login page, its cookies, the form.
const { location } = await signIn(authorizationUrl, issuer, email, password);

const tokens = await client.authorizationCodeGrant(config, new URL(location), {
  pkceCodeVerifier: codeVerifier,
  expectedState: state,
  idTokenExpected: true,
}, undefined, { DPoP });
const sub = tokens.claims().sub;
const userinfo = await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP });
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });

// The same token as a bearer token is refused.
const bearer = await fetch(new URL('/userinfo', issuer), {
  headers: { authorization: `Bearer ${tokens.access_token}` },
});

// A confidential client: client_credentials with a proof.
const ccConfig = await client.discovery(new URL(issuer), ccId, ccSecret, undefined, insecure);
const cc = await client.clientCredentialsGrant(ccConfig, { scope: 'read' },
  { DPoP: client.getDPoPHandle(ccConfig, keyPair) });

const payload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const jwk = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
const thumbprint = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(
  JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })))).toString('base64url');

console.log(JSON.stringify({
  key_thumbprint: thumbprint,
  code_token_type: tokens.token_type,
  code_access_cnf: payload(tokens.access_token).cnf,
  userinfo,
  refreshed_token_type: refreshed.token_type,
  refreshed_access_cnf: payload(refreshed.access_token).cnf,
  bearer_status: bearer.status,
  bearer_challenge: bearer.headers.get('www-authenticate'),
  cc_token_type: cc.token_type,
  cc_access_cnf: payload(cc.access_token).cnf,
}));
