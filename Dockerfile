# syntax=docker/dockerfile:1
# One image for both apps; compose picks the command. Built output runs on plain Node: the exact
# Node.js the project is tested on (.node-version pins the same version; a test holds them equal).
ARG NODE_VERSION=24.22.3

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json pnpm-workspace.yaml pnpm-lock.yaml tsconfig.base.json tsconfig.json .node-version ./
COPY scripts ./scripts
COPY packages ./packages
COPY apps ./apps
# tsconfig.json and the workspace list name the bench too: it is built, never run, in the image.
COPY bench ./bench
RUN npx -y pnpm@12.4.2 install --frozen-lockfile \
 && npx -y pnpm@12.4.2 exec tsc -b \
 && rm -rf node_modules apps/*/node_modules packages/*/node_modules \
 && CI=true npx -y pnpm@12.4.2 install --frozen-lockfile --prod

FROM node:${NODE_VERSION}-bookworm-slim
ARG NODE_VERSION
LABEL org.opencontainers.image.title="request-out" io.request-out.node-version="${NODE_VERSION}"
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
EXPOSE 3000
CMD ["node", "apps/intake/dist/main.js"]
