// node-oidc-provider reference server for bench/run.sh.
//
// Issues JWT access tokens (ES256) for the client_credentials grant to a
// single confidential client `bench` / `bench-secret`, mirroring
// bench/oxidp-bench.toml. Listens on 127.0.0.1 only, single process (no
// cluster mode): node is single-threaded and that is the fair default.
//
// Usage: PORT=4000 node server.mjs    (PORT=0 picks a free port)
// Prints "listening http://127.0.0.1:PORT" on stdout once ready.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const HOST = '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT ?? '0', 10);
const RESOURCE = 'urn:bench:api';
const SCOPE = 'api.read';

function signingJwk(kind, options, alg, kid) {
  const { privateKey } = generateKeyPairSync(kind, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid };
}

// Fresh keys each start. ES256 signs the access tokens; an RS256 key is
// present because RS256 is the provider's default ID token / client default
// algorithm and must be resolvable.
const jwks = {
  keys: [
    signingJwk('ec', { namedCurve: 'P-256' }, 'ES256', 'bench-es256'),
    signingJwk('rsa', { modulusLength: 2048 }, 'RS256', 'bench-rs256'),
  ],
};

const resourceServer = {
  scope: SCOPE,
  audience: RESOURCE,
  accessTokenTTL: 3600,
  accessTokenFormat: 'jwt',
  jwt: { sign: { alg: 'ES256' } },
};

// The provider needs to know its own port for the issuer; bind first with a
// plain http server, then mount the provider's callback on it.
const { createServer } = await import('node:http');
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(PORT, HOST, resolve);
});
const { port } = server.address();
const issuer = `http://${HOST}:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench',
      client_secret: 'bench-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPE,
    },
  ],
  jwks,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: [SCOPE],
  // Same path as oxidp so one wrk script serves both.
  routes: { token: '/connect/token' },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) {
          throw new Provider.errors.InvalidTarget();
        }
        return resourceServer;
      },
    },
  },
  ttl: {
    ClientCredentials: 3600,
    AccessToken: 3600,
  },
  // Loopback-only benchmark target; nothing to do with CORS.
  clientBasedCORS: () => false,
});
provider.proxy = false;

// Logs silenced: only real server errors reach stderr (run.sh keeps them in a
// log file so a broken run is visible).
provider.on('server_error', (_ctx, err) => {
  process.stderr.write(`server_error: ${err?.stack ?? err}\n`);
});

server.on('request', provider.callback());
process.stdout.write(`listening ${issuer}\n`);

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
