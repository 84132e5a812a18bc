// The comparison server for the benchmark: panva's oidc-provider (npm), installed by the benchmark into a temporary
// folder and started with this script. Configured like our server for the flows compared: RS256 signing key,
// a confidential client with client_secret_basic and client_credentials, and access tokens that are RS256 JWTs
// (resource indicators with accessTokenFormat 'jwt'). Settings come from the environment:
//   BENCH_PORT, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_RESOURCE, BENCH_SCOPE
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.BENCH_PORT);
const issuer = `http://127.0.0.1:${port}`;
const resource = process.env.BENCH_RESOURCE;
const scope = process.env.BENCH_SCOPE;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'bench-rs256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.BENCH_CLIENT_ID,
    client_secret: process.env.BENCH_CLIENT_SECRET,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope,
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: [scope],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope,
        audience: resource,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});
provider.proxy = false;

provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
