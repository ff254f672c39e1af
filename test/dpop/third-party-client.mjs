// A client of the gateway written with third-party DPoP code only: panva's `dpop` package and
// `oauth4webapi`. It issues bound tokens through the gateway, then presents them with proofs
// those libraries make, and prints what the gateway answered, as JSON, for the test to judge.
// Usage: node third-party-client.mjs <baseUrl> <apiKey> <authToken>
import * as DPoP from 'dpop';
import * as oauth from 'oauth4webapi';

const [baseUrl, apiKey, authToken] = process.argv.slice(2);
const user = { userId: 'user-1', organizationId: 'org-1' };

async function issue(dpopJkt) {
  const res = await fetch(`${baseUrl}/v1/auth/token/get`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data: { apiKey, authToken, userId: user.userId, userProperties: user, dpopJkt } }),
  });
  return (await res.json()).result.data;
}

async function identify(token, proof) {
  const res = await fetch(`${baseUrl}/v1/auth/identify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(proof ? { dpop: proof } : {}) },
    body: JSON.stringify({ data: { apiKey, token, user } }),
  });
  return { status: res.status, code: (await res.json()).error?.code ?? null };
}

const results = {};

// panva/dpop: a key pair per algorithm, a proof for identify, then its replay.
for (const alg of ['ES256', 'Ed25519', 'RS256', 'PS256']) {
  const keypair = await DPoP.generateKeyPair(alg);
  const jkt = await DPoP.calculateThumbprint(keypair.publicKey);
  const { token, tokenType } = await issue(jkt);
  const proof = await DPoP.generateProof(keypair, `${baseUrl}/v1/auth/identify`, 'POST', undefined, token);
  results[`dpop ${alg}`] = {
    tokenType,
    accepted: await identify(token, proof),
    replayed: await identify(token, proof),
    withoutProof: await identify(token),
    wrongUrl: await identify(token, await DPoP.generateProof(keypair, `${baseUrl}/v1/auth/authorize`, 'POST', undefined, token)),
    wrongMethod: await identify(token, await DPoP.generateProof(keypair, `${baseUrl}/v1/auth/identify`, 'GET', undefined, token)),
  };
}

// oauth4webapi: its DPoP handle on a protected-resource request to forward auth, the proxy's
// X-Forwarded-* describing that same request.
{
  const keyPair = await oauth.generateKeyPair('ES256');
  const jwk = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
  const jkt = await DPoP.calculateThumbprint(keyPair.publicKey);
  const { token } = await issue(jkt);
  const url = new URL(`${baseUrl}/v1/auth/verify?apiKey=${encodeURIComponent(apiKey)}`);
  const forwarded = new Headers({
    'x-forwarded-method': 'GET',
    'x-forwarded-proto': url.protocol.replace(':', ''),
    'x-forwarded-host': url.host,
    'x-forwarded-uri': `${url.pathname}${url.search}`,
  });
  const DPoPHandle = oauth.DPoP({}, keyPair);
  const res = await oauth.protectedResourceRequest(token, 'GET', url, forwarded, undefined, {
    DPoP: DPoPHandle,
    [oauth.allowInsecureRequests]: true,
  });
  results['oauth4webapi forward auth'] = { status: res.status, userId: res.headers.get('x-auth-user-id'), kty: jwk.kty };
  // The same library's proof for identify, made by hand from its handle's key.
  const proof = await DPoP.generateProof({ ...keyPair, publicKey: keyPair.publicKey }, `${baseUrl}/v1/auth/identify`, 'POST', undefined, token);
  results['oauth4webapi key, identify'] = await identify(token, proof);
}

process.stdout.write(JSON.stringify(results));
