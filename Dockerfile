# syntax=docker/dockerfile:1
# token-gateway: build with the dev dependencies, run with the production ones only.
#   docker build -t token-gateway .
#   docker run -p 8080:8080 --user "$(id -u):$(id -g)" -v "$PWD/keys:/app/keys:ro" \
#     -e REDIS_URL=redis://redis:6379 -e JWT_ISSUER=https://auth.example.com -e ADMIN_TOKEN=... token-gateway
# (--user: the owner of the key files, which are mode 0600; docs/DEPLOYMENT.md has the whole recipe.)
# Node 24 is a supported LTS line (until April 2028); the code runs on Node 20 or later.

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The repository is an npm workspace; the client package's manifest keeps the lock file valid.
COPY packages/client/package.json ./packages/client/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    KEYS_DIR=/app/keys \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY scripts/healthcheck.js ./scripts/
# The keys folder belongs to the unprivileged user; in production mount the signing keys here
# (read-only is fine: a production start never writes a key). The key files must be readable by
# the user the container runs as: `keys generate` writes them mode 0600, so either run the
# container as their owner (--user "$(id -u):$(id -g)"; the app needs no other write access) or
# give them to uid 1000 (node).
RUN mkdir -p /app/keys && chown node:node /app/keys
USER node
EXPOSE 8080
VOLUME ["/app/keys"]
# Asks /healthz where the gateway listens (HOST, PORT); slim images have no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "scripts/healthcheck.js"]
# node is PID 1 and handles SIGTERM itself (graceful drain, then exit 0; past
# SHUTDOWN_TIMEOUT_SECONDS exit 1): give `docker stop` a longer --time than that timeout.
CMD ["node", "dist/server.js"]
