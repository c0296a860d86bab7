# syntax=docker/dockerfile:1

# Build: type-check the TypeScript sources and bundle them into dist/ (npm run build).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime: production dependencies and the compiled app only, as an unprivileged user.
FROM node:24-bookworm-slim AS runtime
# A small young generation: the upload path allocates short-lived buffers, and scavenging 2 MB semi-spaces
# costs less CPU and resident memory per forwarded GB than the default (see bench/FINDINGS.md).
# GraphiQL (and with it introspection) is off in the image; set GRAPHIQL=true to explore a deployment.
ENV NODE_ENV=production PORT=4000 GRAPHIQL=false NODE_OPTIONS=--max-semi-space-size=2
# glibc gives each thread that allocates a malloc arena of its own and keeps what is freed there: libvips (sharp, for
# photos scaled down to fit) runs on libuv's threads, so uncapped, every resize grows the resident set a little more
# (bench/tools/resize-cell.ts, 12 MP JPEGs at concurrency 8: peak growth 402 MiB uncapped, 228 MiB with 2 arenas).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 4000
# Prometheus metrics (METRICS_PORT): a listener of its own, for the scraper only.
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "dist/healthcheck.js"]
CMD ["node", "dist/main.js"]
