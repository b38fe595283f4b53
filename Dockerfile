# syntax=docker/dockerfile:1
# The runnerctl controller image.
#
#   docker build -t runnerctl-controller .
#
# It runs `node bin/runnerctl.js controller` (TypeScript through tsx, no build step) as the
# unprivileged `node` user. No HEALTHCHECK here: the ECS task definition probes /healthz.
# NODE_VERSION is the Node.js LTS line; for repeatable builds pin the base image by digest
# (node:26-slim@sha256:...).
ARG NODE_VERSION=26

FROM node:${NODE_VERSION}-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-slim
ENV NODE_ENV=production
WORKDIR /app
# Everything stays owned by root: the controller only reads its code.
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY controller ./controller
COPY crds ./crds
USER node
EXPOSE 8080
ENTRYPOINT ["node", "bin/runnerctl.js"]
CMD ["controller"]
