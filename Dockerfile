# syntax=docker/dockerfile:1
# token-gateway: build with the dev dependencies, run with the production ones only.
#   docker build -t token-gateway .
#   docker run -p 8080:8080 -v "$PWD/keys:/app/keys:ro" -e REDIS_URL=redis://redis:6379 \
#     -e JWT_ISSUER=https://auth.example.com -e ADMIN_TOKEN=... token-gateway
# (docs/DEPLOYMENT.md has the whole recipe.)

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    KEYS_DIR=/app/keys \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The keys folder belongs to the unprivileged user; in production mount the signing keys here
# (read-only is fine: a production start never writes a key).
RUN mkdir -p /app/keys && chown node:node /app/keys
USER node
EXPOSE 8080
VOLUME ["/app/keys"]
# Slim images have no curl: node itself asks /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('http').get({host: '127.0.0.1', port: process.env.PORT || 8080, path: '/healthz', timeout: 2000}, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1)).on('timeout', () => process.exit(1))"]
# node is PID 1 and handles SIGTERM itself (graceful drain, then exit 0; past
# SHUTDOWN_TIMEOUT_SECONDS exit 1): give `docker stop` a longer --time than that timeout.
CMD ["node", "dist/server.js"]
