/**
 * The deployment files hold together: every YAML parses, the Kubernetes objects have the
 * structure the docs promise (probes, secrets, shutdown budget, non-root, read-only root), the
 * proxy configurations copy all six X-Auth-* headers, the sidecar ConfigMap is the nginx
 * template verbatim, the Dockerfile is multi-stage and non-root, and the requests Traefik and
 * Envoy build from their configuration are answered by the gateway as forward auth.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import YAML from 'yaml';
import { buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { IDENTITY_HEADERS, NGINX_TEMPLATE, REPO_ROOT } from './harness';

const DEPLOY = path.join(REPO_ROOT, 'deploy');
const read = (...parts: string[]) => readFileSync(path.join(REPO_ROOT, ...parts), 'utf8');

type Obj = Record<string, any>;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(full);
    return /\.ya?ml$/.test(entry.name) ? [full] : [];
  });
}

function parseAll(file: string): Obj[] {
  const docs = YAML.parseAllDocuments(readFileSync(file, 'utf8'));
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
  }
  return docs.map((doc) => doc.toJS() as Obj).filter((value) => value !== null);
}

const kubernetes = yamlFiles(path.join(DEPLOY, 'kubernetes')).flatMap((file) =>
  parseAll(file).map((object) => ({ file: path.basename(file), object })),
);
const ofKind = (kind: string) => kubernetes.filter((k) => k.object.kind === kind).map((k) => k.object);
const deployment = (name: string) => ofKind('Deployment').find((d) => d.metadata.name === name)!;
const container = (dep: Obj, name: string) => dep.spec.template.spec.containers.find((c: Obj) => c.name === name);
const envValue = (c: Obj, name: string) => c.env?.find((e: Obj) => e.name === name);

/**
 * The seconds a container's preStop hook pauses before the container gets SIGTERM: a node
 * `setTimeout(..., ms)` or a shell `sleep N` (the first one, before anything else runs).
 */
function preStopPauseSeconds(c: Obj): number {
  const command = c.lifecycle?.preStop?.exec?.command as string[] | undefined;
  if (!command) throw new Error(`container ${c.name} has no preStop exec hook`);
  const text = command.join(' ');
  const node = /setTimeout\(\s*\(\)\s*=>\s*\{\s*\}\s*,\s*(\d+)\s*\)/.exec(text);
  if (node) return Number(node[1]) / 1000;
  const sleep = /(?:^|[;&\s])sleep (\d+)(?:;|\s|$)/.exec(text);
  if (sleep) return Number(sleep[1]);
  throw new Error(`cannot read the pause of ${c.name}'s preStop hook: ${text}`);
}

describe('every YAML file under deploy/ parses', () => {
  it.each(yamlFiles(DEPLOY).map((f) => path.relative(REPO_ROOT, f)))('%s', (file) => {
    expect(parseAll(path.join(REPO_ROOT, file)).length).toBeGreaterThan(0);
  });
});

describe('Kubernetes manifests', () => {
  it('every object has apiVersion, kind and a name', () => {
    expect(kubernetes.length).toBeGreaterThan(5);
    for (const { file, object } of kubernetes) {
      expect([file, typeof object.apiVersion]).toEqual([file, 'string']);
      expect([file, typeof object.kind]).toEqual([file, 'string']);
      if (object.kind !== 'Kustomization') expect([file, typeof object.metadata?.name]).toEqual([file, 'string']);
    }
  });

  it('the kustomization lists files that exist', () => {
    const kustomization = ofKind('Kustomization')[0]!;
    for (const resource of kustomization.resources as string[]) {
      expect(() => read('deploy', 'kubernetes', resource)).not.toThrow();
    }
  });

  describe('the shared Deployment', () => {
    const dep = deployment('token-gateway');
    const pod = dep.spec.template.spec;
    const gateway = container(dep, 'token-gateway');

    it('runs 3 replicas selected by its own labels', () => {
      expect(dep.apiVersion).toBe('apps/v1');
      expect(dep.spec.replicas).toBe(3);
      expect(dep.spec.selector.matchLabels).toEqual(dep.spec.template.metadata.labels);
    });

    it('probes /healthz for liveness and /readyz for readiness on the container port', () => {
      expect(gateway.livenessProbe.httpGet.path).toBe('/healthz');
      expect(gateway.readinessProbe.httpGet.path).toBe('/readyz');
      expect(gateway.ports[0].containerPort).toBe(8080);
      expect(gateway.ports[0].name).toBe(gateway.readinessProbe.httpGet.port);
    });

    it('gives the drain more time than SHUTDOWN_TIMEOUT_SECONDS (plus the preStop pause)', () => {
      const config = ofKind('ConfigMap').find((c) => c.metadata.name === 'token-gateway-config')!;
      const timeout = Number(config.data.SHUTDOWN_TIMEOUT_SECONDS);
      expect(timeout).toBeGreaterThan(0);
      const pause = preStopPauseSeconds(gateway);
      expect(pause).toBeGreaterThanOrEqual(3);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(timeout + pause);
      expect(gateway.envFrom).toContainEqual({ configMapRef: { name: 'token-gateway-config' } });
    });

    it('does not trust X-Forwarded-For: backends reach the Service with no proxy in front', () => {
      const config = ofKind('ConfigMap').find((c) => c.metadata.name === 'token-gateway-config')!;
      expect(config.data).not.toHaveProperty('TRUST_PROXY');
      expect(envValue(gateway, 'TRUST_PROXY')).toBeUndefined();
      // ...and the file says when and how to set it.
      expect(read('deploy', 'kubernetes', 'configmap.yaml')).toMatch(/#\s*TRUST_PROXY: "[0-9.,/]+"/);
    });

    it('reads REDIS_URL and ADMIN_TOKEN from a Secret and mounts the keys read-only at /app/keys', () => {
      expect(envValue(gateway, 'REDIS_URL').valueFrom.secretKeyRef).toEqual({ name: 'token-gateway-env', key: 'REDIS_URL' });
      expect(envValue(gateway, 'ADMIN_TOKEN').valueFrom.secretKeyRef.name).toBe('token-gateway-env');
      expect(envValue(gateway, 'KEYS_DIR').value).toBe('/app/keys');
      const mount = gateway.volumeMounts.find((m: Obj) => m.mountPath === '/app/keys');
      expect(mount.readOnly).toBe(true);
      const volume = pod.volumes.find((v: Obj) => v.name === mount.name);
      expect(volume.secret.secretName).toBe('token-gateway-keys');
      const secrets = ofKind('Secret').map((s) => s.metadata.name);
      expect(secrets).toEqual(expect.arrayContaining(['token-gateway-keys', 'token-gateway-env']));
    });

    it('runs as non-root on a read-only root file system with resources set', () => {
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(gateway.securityContext.runAsNonRoot).toBe(true);
      expect(gateway.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(gateway.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(gateway.securityContext.capabilities.drop).toEqual(['ALL']);
      expect(gateway.resources.requests.cpu).toBeDefined();
      expect(gateway.resources.requests.memory).toBeDefined();
      expect(gateway.resources.limits.memory).toBeDefined();
    });

    it('is behind a Service that selects its pods', () => {
      const service = ofKind('Service').find((s) => s.metadata.name === 'token-gateway')!;
      expect(service.spec.selector).toEqual(dep.spec.template.metadata.labels);
      expect(service.spec.ports[0]).toMatchObject({ port: 8080, targetPort: 'http' });
      const pdb = ofKind('PodDisruptionBudget')[0]!;
      expect(pdb.spec.selector.matchLabels).toEqual(dep.spec.selector.matchLabels);
    });
  });

  describe('the sidecar pod', () => {
    const dep = deployment('app');
    const pod = dep.spec.template.spec;
    const gateway = container(dep, 'token-gateway');
    const nginx = container(dep, 'nginx');

    it('runs nginx, the gateway and the application side by side', () => {
      expect(pod.containers.map((c: Obj) => c.name).sort()).toEqual(['app', 'nginx', 'token-gateway']);
    });

    it('names one account for forward auth, in nginx and in the gateway alike', () => {
      expect(envValue(nginx, 'GATEWAY_API_KEY').value).toBe('ak_REPLACE_WITH_YOUR_APP_APIKEY');
      expect(envValue(gateway, 'FORWARD_AUTH_API_KEYS').value).toBe(envValue(nginx, 'GATEWAY_API_KEY').value);
    });

    it('points nginx at the gateway and the application over loopback', () => {
      expect(envValue(nginx, 'GATEWAY_ADDR').value).toBe(`127.0.0.1:${envValue(gateway, 'PORT').value}`);
      expect(envValue(nginx, 'APP_ADDR').value).toBe('127.0.0.1:3000');
      const templates = nginx.volumeMounts.find((m: Obj) => m.mountPath === '/etc/nginx/templates');
      const volume = pod.volumes.find((v: Obj) => v.name === templates.name);
      expect(volume.configMap.name).toBe('app-nginx-templates');
    });

    it('carries the nginx template verbatim', () => {
      const configMap = ofKind('ConfigMap').find((c) => c.metadata.name === 'app-nginx-templates')!;
      expect(configMap.data['token-gateway.conf.template']).toBe(readFileSync(NGINX_TEMPLATE, 'utf8'));
    });

    it('gives the gateway its keys read-only, REDIS_URL from a Secret, and both probes', () => {
      expect(gateway.volumeMounts).toContainEqual(expect.objectContaining({ mountPath: '/app/keys', readOnly: true }));
      const keys = pod.volumes.find((v: Obj) => v.secret)!;
      expect(keys.secret.secretName).toBe('token-gateway-keys');
      expect(envValue(gateway, 'REDIS_URL').valueFrom.secretKeyRef.name).toBe('token-gateway-env');
      expect(gateway.livenessProbe.httpGet.path).toBe('/healthz');
      expect(gateway.readinessProbe.httpGet.path).toBe('/readyz');
      for (const c of pod.containers) expect([c.name, c.securityContext.readOnlyRootFilesystem]).toEqual([c.name, true]);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
    });

    it('pauses nginx and the gateway at shutdown, the gateway longer, within the grace period', () => {
      const nginxPause = preStopPauseSeconds(nginx);
      const gatewayPause = preStopPauseSeconds(gateway);
      expect(nginxPause).toBeGreaterThanOrEqual(3);
      // nginx still takes requests (and asks the gateway about each) during its pause: the
      // gateway keeps its listener open at least that long, with a margin.
      expect(gatewayPause).toBeGreaterThanOrEqual(nginxPause + 2);
      const timeout = Number(envValue(gateway, 'SHUTDOWN_TIMEOUT_SECONDS').value);
      expect(timeout).toBeGreaterThan(0);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(gatewayPause + timeout);
      // nginx quits gracefully (SIGTERM alone is its fast shutdown) and waits a bounded time.
      const nginxHook = (nginx.lifecycle.preStop.exec.command as string[]).join(' ');
      expect(nginxHook).toContain('nginx -s quit');
      const bound = /\$i -lt (\d+)/.exec(nginxHook);
      expect(bound).not.toBeNull();
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(nginxPause + Number(bound![1]));
    });
  });
});

describe('proxy configurations copy all six identity headers', () => {
  it('nginx: auth_request_set and proxy_set_header for each, the body never sent to the gateway', () => {
    const conf = readFileSync(NGINX_TEMPLATE, 'utf8');
    for (const header of IDENTITY_HEADERS) {
      const variable = `$upstream_http_${header.toLowerCase().replace(/-/g, '_')}`;
      const set = new RegExp(`auth_request_set\\s+(\\$\\w+)\\s+\\${variable};`).exec(conf);
      expect([header, set]).not.toEqual([header, null]);
      expect(conf).toMatch(new RegExp(`proxy_set_header\\s+${header}\\s+\\${set![1]};`));
    }
    expect(conf.match(/proxy_pass_request_body off;/g)?.length).toBe(conf.match(/internal;/g)?.length);
    // Every verify call names the application's account (contract §3.3).
    const calls = conf.match(/proxy_pass http:\/\/token_gateway\/v1\/auth\/verify[^;]*;/g) ?? [];
    expect(calls.length).toBe(2);
    for (const call of calls) expect(call).toMatch(/\?apiKey=\$\{GATEWAY_API_KEY\}(&|;)/);
    expect(conf).toMatch(/\?apiKey=\$\{GATEWAY_API_KEY\}&permission=admin:access;/);
  });

  it('every recipe gives the gateway the original request for DPoP proofs, from what the proxy received (contract §10)', () => {
    // nginx: each verify location sets the four from its own variables, replacing client copies.
    const conf = readFileSync(NGINX_TEMPLATE, 'utf8');
    const locations = conf.split(/location = \/_token_gateway\/verify/).slice(1);
    expect(locations).toHaveLength(2);
    for (const location of locations) {
      const body = location.slice(0, location.indexOf('\n    }'));
      expect(body).toMatch(/proxy_set_header X-Forwarded-Method \$request_method;/);
      expect(body).toMatch(/proxy_set_header X-Forwarded-Proto\s+\$scheme;/);
      expect(body).toMatch(/proxy_set_header X-Forwarded-Host\s+\$http_host;/);
      expect(body).toMatch(/proxy_set_header X-Forwarded-Uri\s+\$request_uri;/);
    }
    expect(conf).toMatch(/auth_request_set \$auth_dpop_nonce\s+\$upstream_http_dpop_nonce;/);
    // Traefik: ForwardAuth sets X-Forwarded-* itself (trustForwardHeader off) and passes DPoP.
    const middlewares = [
      ...Object.values(parseAll(path.join(DEPLOY, 'traefik', 'dynamic.yml'))[0]!.http.middlewares as Obj),
      ...parseAll(path.join(DEPLOY, 'traefik', 'middleware.kubernetes.yaml')).map((m) => m.spec),
    ];
    for (const middleware of middlewares) {
      expect(middleware.forwardAuth.trustForwardHeader).toBe(false);
      expect(middleware.forwardAuth.authRequestHeaders).toContain('DPoP');
    }
    // Envoy: the proof header allowed through, the four set from the request's pseudo-headers.
    const envoy = parseAll(path.join(DEPLOY, 'envoy', 'envoy.yaml'))[0]!;
    const filters = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters as Obj[];
    for (const filter of filters.filter((f) => f.typed_config['@type'].endsWith('ext_authz.v3.ExtAuthz'))) {
      const config = filter.typed_config;
      expect(config.allowed_headers.patterns.map((p: Obj) => p.exact)).toContain('dpop');
      expect(config.allowed_headers.patterns.map((p: Obj) => p.exact)).not.toContain('x-forwarded-host');
      const added = Object.fromEntries(config.http_service.authorization_request.headers_to_add.map((h: Obj) => [h.key, h.value]));
      expect(added).toEqual({
        'x-forwarded-method': '%REQ(:METHOD)%',
        'x-forwarded-proto': '%REQ(:SCHEME)%',
        'x-forwarded-host': '%REQ(:AUTHORITY)%',
        'x-forwarded-uri': '%REQ(:PATH)%',
      });
      expect(config.http_service.authorization_response.allowed_client_headers.patterns.map((p: Obj) => p.exact)).toContain('dpop-nonce');
    }
  });

  it("Traefik and Envoy pass the client's W3C trace context to forward auth (tracing, contract §9)", () => {
    // nginx passes every client header to its auth subrequest (test/deploy/otlp-tracing.test.ts);
    // these two pass only the headers they list.
    const middlewares = [
      ...Object.values(parseAll(path.join(DEPLOY, 'traefik', 'dynamic.yml'))[0]!.http.middlewares as Obj),
      ...parseAll(path.join(DEPLOY, 'traefik', 'middleware.kubernetes.yaml')).map((m) => m.spec),
    ];
    expect(middlewares.length).toBeGreaterThanOrEqual(4);
    for (const middleware of middlewares) {
      expect(middleware.forwardAuth.authRequestHeaders).toEqual(expect.arrayContaining(['traceparent', 'tracestate']));
    }
    const envoy = parseAll(path.join(DEPLOY, 'envoy', 'envoy.yaml'))[0]!;
    const filters = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters as Obj[];
    const authz = filters.filter((f) => f.typed_config['@type'].endsWith('ext_authz.v3.ExtAuthz'));
    expect(authz.length).toBe(2);
    for (const filter of authz) {
      const allowed = filter.typed_config.allowed_headers.patterns.map((p: Obj) => p.exact);
      expect(allowed).toEqual(expect.arrayContaining(['traceparent', 'tracestate']));
    }
  });

  it('Traefik: every ForwardAuth middleware names them in authResponseHeaders', () => {
    const files = ['dynamic.yml', 'middleware.kubernetes.yaml'];
    const middlewares = [
      ...Object.values(parseAll(path.join(DEPLOY, 'traefik', files[0]!))[0]!.http.middlewares as Obj),
      ...parseAll(path.join(DEPLOY, 'traefik', files[1]!)).map((m) => m.spec),
    ];
    expect(middlewares.length).toBe(4);
    for (const middleware of middlewares) {
      expect(middleware.forwardAuth.authResponseHeaders).toEqual([...IDENTITY_HEADERS]);
      expect(middleware.forwardAuth.address).toMatch(/\/v1\/auth\/verify\?apiKey=ak_REPLACE_WITH_YOUR_APP_APIKEY(&permission=[\w:]+)?$/);
      expect(middleware.forwardAuth.trustForwardHeader).toBe(false);
    }
  });

  it('Envoy: removes client copies first, then sets the gateway values with allowed_upstream_headers', () => {
    const envoy = parseAll(path.join(DEPLOY, 'envoy', 'envoy.yaml'))[0]!;
    const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const filters = hcm.http_filters as Obj[];
    const lower = IDENTITY_HEADERS.map((h) => h.toLowerCase());
    const removed = filters[0]!.typed_config.mutations.request_mutations.map((m: Obj) => m.remove.toLowerCase());
    expect(removed).toEqual(lower);
    const authz = filters.filter((f) => f.typed_config['@type'].endsWith('ext_authz.v3.ExtAuthz'));
    expect(authz.length).toBe(2);
    for (const filter of authz) {
      const config = filter.typed_config;
      expect(config.failure_mode_allow).toBe(false);
      expect(config.with_request_body).toBeUndefined();
      const upstream = config.http_service.authorization_response.allowed_upstream_headers.patterns.map((p: Obj) => p.exact);
      expect(upstream).toEqual(lower);
      expect(config.http_service.authorization_response.allowed_upstream_headers_to_append).toBeUndefined();
      expect(config.http_service.path_prefix).toMatch(/^\/v1\/auth\/verify\?apiKey=ak_REPLACE_WITH_YOUR_APP_APIKEY&(permission=[\w:]+&)?original_path=$/);
      const cluster = envoy.static_resources.clusters.find((c: Obj) => c.name === config.http_service.server_uri.cluster);
      expect(cluster).toBeDefined();
    }
    expect(filters.at(-1)!.name).toBe('envoy.filters.http.router');
  });
});

/** The apiKey the recipes ship with, for the operator to replace with the application's. */
const PLACEHOLDER_API_KEY = 'ak_REPLACE_WITH_YOUR_APP_APIKEY';

describe('the requests the proxies build reach forward auth', () => {
  let gw: TestGateway;
  let acme: TestAccount;
  const envoy = parseAll(path.join(DEPLOY, 'envoy', 'envoy.yaml'))[0]!;
  const prefixes = (envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters as Obj[])
    .filter((f) => f.typed_config['@type'].endsWith('ext_authz.v3.ExtAuthz'))
    .map((f) => f.typed_config.http_service.path_prefix as string);

  beforeAll(async () => {
    gw = await buildTestGateway();
    acme = await gw.createAccount();
  });
  afterAll(() => gw.close());

  it('Envoy: path_prefix + the client path (query included) is answered, the permission kept', async () => {
    const [plain, admin] = prefixes.map((prefix) => prefix.replace(PLACEHOLDER_API_KEY, acme.apiKey)) as [string, string];
    const reader = (await gw.issue(acme, { policy: { allow: ['document:read'] } })).token;
    const administrator = (await gw.issue(acme, { policy: { allow: ['admin:access'] } })).token;
    const ok = await request(gw.app).get(`${plain}/documents/1?x=1&y=2`).set('Authorization', `Bearer ${reader}`);
    expect(ok.status).toBe(200);
    expect(ok.headers['x-auth-user-id']).toBe('user-1');
    expect((await request(gw.app).get(`${admin}/admin/users?x=1`).set('Authorization', `Bearer ${reader}`)).status).toBe(403);
    expect((await request(gw.app).get(`${admin}/admin/users`).set('Authorization', `Bearer ${administrator}`)).status).toBe(200);
    // A client cannot drop the required permission by adding its own: after a `&` of the
    // client's query, `permission=` is a second member of the gateway's query (not part of
    // original_path), which the gateway refuses with 400 whatever the token grants.
    const smuggledPath = `${admin}/admin/users?x=1&permission=document:read`;
    expect(new URL(smuggledPath, 'http://gw').searchParams.getAll('permission')).toEqual(['admin:access', 'document:read']);
    const smuggled = await request(gw.app).get(smuggledPath).set('Authorization', `Bearer ${reader}`);
    expect(smuggled.status).toBe(400);
    const smuggledByAdmin = await request(gw.app).get(smuggledPath).set('Authorization', `Bearer ${administrator}`);
    expect(smuggledByAdmin.status).toBe(400);
    // Only the first `?` of the client's path is swallowed by original_path: no second member.
    const swallowed = await request(gw.app)
      .get(`${admin}/admin/users?permission=document:read`)
      .set('Authorization', `Bearer ${reader}`);
    expect(swallowed.status).toBe(403);
    expect((await request(gw.app).post(`${plain}/upload`).set('Authorization', 'Bearer nope')).status).toBe(401);
    // Nor can it choose another account: a second apiKey member is 400 as well.
    const other = await gw.createAccount('Other');
    const otherToken = (await gw.issue(other)).token;
    const rescoped = await request(gw.app).get(`${plain}/documents/1?x=1&apiKey=${other.apiKey}`).set('Authorization', `Bearer ${otherToken}`);
    expect(rescoped.status).toBe(400);
    // And the recipe as shipped, before the operator names the account, lets nobody in.
    const unconfigured = await request(gw.app).get(`${prefixes[0]}/documents/1`).set('Authorization', `Bearer ${reader}`);
    expect(unconfigured.status).toBe(401);
  });

  it('Traefik: the middleware address is answered as is', async () => {
    const { token } = await gw.issue(acme, { policy: { allow: ['admin:access'] } });
    const middlewares = parseAll(path.join(DEPLOY, 'traefik', 'dynamic.yml'))[0]!.http.middlewares as Obj;
    for (const middleware of Object.values(middlewares)) {
      const url = new URL((middleware.forwardAuth.address as string).replace(PLACEHOLDER_API_KEY, acme.apiKey));
      const res = await request(gw.app).get(`${url.pathname}${url.search}`).set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));

  it('is multi-stage: a build stage, then a runtime stage with production dependencies only', () => {
    const froms = instructions.filter((line) => /^FROM /i.test(line));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    // A Node LTS line still supported (node:20 ended in April 2026); the code runs on 20 or later.
    const supportedUntil: Record<string, string> = { '22': '2027-04-30', '24': '2028-04-30' };
    for (const from of froms) {
      const major = /^FROM node:(\d+)-slim\b/i.exec(from)?.[1] ?? '';
      expect(Object.keys(supportedUntil)).toContain(major);
      expect(new Date().toISOString().slice(0, 10) <= supportedUntil[major]!).toBe(true);
    }
    expect(JSON.parse(read('package.json')).engines.node).toBe('>=20');
    expect(dockerfile).toMatch(/npm ci\b/);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/COPY --from=build/);
  });

  it('runs as the non-root user node, with a HEALTHCHECK on /healthz and the keys as a volume', () => {
    const lastFrom = instructions.map((l) => /^FROM /i.test(l)).lastIndexOf(true);
    const runtime = instructions.slice(lastFrom);
    expect(runtime).toContain('USER node');
    // The healthcheck script follows HOST and PORT (test/deploy/healthcheck.test.ts runs it).
    expect(runtime.find((l) => l.startsWith('HEALTHCHECK'))).toMatch(/CMD \["node", "scripts\/healthcheck\.js"\]$/);
    expect(runtime).toContain('COPY scripts/healthcheck.js ./scripts/');
    expect(read('scripts/healthcheck.js')).toMatch(/path: '\/healthz'/);
    expect(runtime.find((l) => l.startsWith('HEALTHCHECK'))).not.toMatch(/curl|wget|127\.0\.0\.1/);
    expect(runtime).toContain('VOLUME ["/app/keys"]');
    expect(runtime.join('\n')).toMatch(/KEYS_DIR=\/app\/keys/);
    expect(runtime.join('\n')).toMatch(/NODE_ENV=production/);
    expect(runtime).toContain('EXPOSE 8080');
    expect(runtime.at(-1)).toBe('CMD ["node", "dist/server.js"]');
  });

  it('installs the workspace as npm ci expects it: the client package manifest beside the lock file', () => {
    const copies = instructions.filter((line) => line === 'COPY packages/client/package.json ./packages/client/');
    expect(copies).toHaveLength(2); // the build stage and the runtime stage
    expect(JSON.parse(read('package.json')).workspaces).toEqual(['packages/client']);
  });

  it('says next to its docker run line that the container must be able to read the 0600 key files', () => {
    for (const doc of ['README.md', 'docs/DEPLOYMENT.md', 'Dockerfile']) {
      const text = read(doc);
      expect(text).toMatch(/docker run[^\n]*(\\\n[^\n]*)*--user "\$\(id -u\):\$\(id -g\)"/);
      expect(text).toMatch(/0600/);
    }
  });

  it('.dockerignore keeps secrets and local artefacts out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.git', '.env', 'keys']) expect(ignored).toContain(entry);
  });
});
