# syntax=docker/dockerfile:1
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
COPY scripts ./scripts
# tools/ (simulators, demo, headline run) is neither copied nor built: the image holds the service only.
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production
# V8's heap limit, as `npm start` sets it: with the default (a quarter of the machine's memory) V8 lets garbage grow
# the heap far past its live size before collecting; 512 MB keeps a busy process near 200 MB of RSS
# (bench/README.md) with room for the largest requests. Override with -e NODE_OPTIONS=… for a bigger container.
ENV NODE_OPTIONS=--max-old-space-size=512
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The CLI (npx zdz …) and the helper the npm scripts run first: without TypeScript in the image it uses dist/ as
# built above, so `npm run migrate`, `npm run rotate-keys` and `npm run keygen` work here.
COPY bin ./bin
COPY scripts/build-if-needed.mjs ./scripts/
COPY package.json ./
COPY data ./data
# The operator console's static pages (src/http/console.ts serves them from /app/console).
COPY console ./console
USER node
EXPOSE 3000
# Probes the port the service listens on (PORT, default 3000); exec form would not see a changed PORT otherwise.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# exec form: node is PID 1 and receives SIGTERM itself (graceful stop: 503 to new requests, in-flight ones finish).
CMD ["node", "dist/src/server.js"]
