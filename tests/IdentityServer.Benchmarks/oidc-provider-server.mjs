// The comparison server for the benchmark: panva's oidc-provider (npm), installed by the benchmark into a temporary
// folder and started with this script. Configured like our server for the flows compared: RS256 signing key (ID
// tokens and JWT access tokens), confidential clients with client_secret_basic, access tokens for the API that are
// RS256 JWTs (resource indicators with accessTokenFormat 'jwt'), refresh tokens rotated on every use, token lifetimes
// as ours (access and ID tokens 5 min, refresh tokens 14 days), the default in-memory adapter.
// Settings come from the environment:
//   BENCH_PORT, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET (client_credentials client),
//   BENCH_WEB_CLIENT_ID, BENCH_WEB_CLIENT_SECRET (authorization_code + refresh_token client), BENCH_RESOURCE, BENCH_SCOPE
//
// Users sign in nowhere here (oidc-provider has no password store, and the benchmark does not compare logins), so
// POST /bench/tokens?workers=N (client_secret_basic of the web client) mints, per worker, what a login would have
// left: a grant for user bench-user-<i> with openid profile email offline_access and the API scope, a refresh token
// of that grant (the start of the worker's refresh chain), an opaque access token without audience (the only kind
// its userinfo endpoint takes) and an opaque client_credentials token for the API (the only kind its introspection
// endpoint takes: it refuses to introspect JWTs).
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.BENCH_PORT);
const issuer = `http://127.0.0.1:${port}`;
const resource = process.env.BENCH_RESOURCE;
const scope = process.env.BENCH_SCOPE;
const ccClientId = process.env.BENCH_CLIENT_ID;
const webClientId = process.env.BENCH_WEB_CLIENT_ID;
const webClientSecret = process.env.BENCH_WEB_CLIENT_SECRET;
const userScope = 'openid profile email offline_access';
const minutes = 60;
const days = 24 * 60 * minutes;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'bench-rs256' };

const apiServer = {
  scope,
  audience: resource,
  accessTokenTTL: 5 * minutes,
  accessTokenFormat: 'jwt',
  jwt: { sign: { alg: 'RS256' } },
};

// bench-user-<i>, with the claims our server's userinfo returns for the same scopes.
const findAccount = (ctx, sub) => (/^bench-user-\d+$/.test(sub)
  ? {
    accountId: sub,
    claims: async () => ({
      sub, name: sub, preferred_username: sub, email: `${sub}@bench.invalid`, email_verified: false,
    }),
  }
  : undefined);

const provider = new Provider(issuer, {
  clients: [{
    client_id: ccClientId,
    client_secret: process.env.BENCH_CLIENT_SECRET,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope,
  }, {
    client_id: webClientId,
    client_secret: webClientSecret,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1:9/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    scope: `${userScope} ${scope}`,
  }],
  findAccount,
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', scope],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  // Ours rotates the refresh token on every use; oidc-provider's default rotates only late in its life.
  rotateRefreshToken: true,
  ttl: {
    AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL ?? 5 * minutes,
    ClientCredentials: 5 * minutes,
    IdToken: 5 * minutes,
    RefreshToken: 14 * days,
    Grant: 14 * days,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => apiServer,
    },
  },
});
provider.proxy = false;

async function mintTokens(workers) {
  const web = await provider.Client.find(webClientId);
  const cc = await provider.Client.find(ccClientId);
  const opaqueApi = new provider.ResourceServer(resource, { ...apiServer, accessTokenFormat: 'opaque' });
  const tokens = [];
  for (let i = 0; i < workers; i += 1) {
    const accountId = `bench-user-${i}`;
    const grant = new provider.Grant({ accountId, clientId: webClientId });
    grant.addOIDCScope(userScope);
    grant.addResourceScope(resource, scope);
    const grantId = await grant.save();
    // The fields the authorization_code grant gives the refresh token it issues (lib/helpers/grant_common.js).
    const refreshToken = await new provider.RefreshToken({
      accountId,
      authTime: Math.floor(Date.now() / 1000),
      client: web,
      grantId,
      gty: 'authorization_code',
      resource,
      rotations: 0,
      scope: `${userScope} ${scope}`,
    }).save();
    const userinfoToken = await new provider.AccessToken({
      accountId, client: web, grantId, gty: 'authorization_code', scope: userScope,
    }).save();
    const introspectionToken = await new provider.ClientCredentials({ client: cc, scope, resourceServer: opaqueApi }).save();
    tokens.push({ refresh_token: refreshToken, userinfo_token: userinfoToken, introspection_token: introspectionToken });
  }

  return tokens;
}

const expectedAuthorization = Buffer.from(`Basic ${Buffer.from(
  `${encodeURIComponent(webClientId)}:${encodeURIComponent(webClientSecret)}`,
).toString('base64')}`);

function authorized(request) {
  const presented = Buffer.from(request.headers.authorization ?? '');
  return presented.length === expectedAuthorization.length && timingSafeEqual(presented, expectedAuthorization);
}

// The default in-memory adapter is an LRU of 1,000 entries and minting takes 5 per worker: with more workers, the
// first ones' tokens would be evicted before their flow uses them.
const maxWorkers = 150;

function reject(response, status, description) {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: description }));
}

async function tokensRoute(request, response) {
  const workers = Number(new URL(request.url, issuer).searchParams.get('workers'));
  if (request.method !== 'POST' || !authorized(request)) {
    reject(response, 401, 'POST with the web client\'s client_secret_basic');
  } else if (!(Number.isInteger(workers) && workers > 0 && workers <= maxWorkers)) {
    reject(response, 400, `workers must be 1 to ${maxWorkers} (the in-memory adapter keeps 1,000 entries)`);
  } else {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(await mintTokens(workers)));
  }
}

// The benchmark's route, in front of the provider's own (a prefix test per request, nothing else).
const app = provider.callback();
createServer((request, response) => {
  if (request.url.startsWith('/bench/')) {
    tokensRoute(request, response).catch((error) => {
      process.stderr.write(`${error.stack}\n`);
      response.writeHead(500).end();
    });
  } else {
    app(request, response);
  }
}).listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
