# The tokenmeter collector and proxy, as docker-compose.yml runs it against a ClickHouse server
# (CLICKHOUSE_URL). Built with the same commands as a fresh clone: npm ci, then npm run build.
FROM node:20-bookworm-slim

WORKDIR /app

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
COPY collector/package.json collector/
COPY sdk/package.json sdk/
COPY dashboards/package.json dashboards/
RUN npm ci

COPY . .
RUN npm run build

RUN mkdir -p /var/lib/tokenmeter && chown node:node /var/lib/tokenmeter
ENV TOKENMETER_HOST=0.0.0.0 \
    TOKENMETER_DATA_DIR=/var/lib/tokenmeter/data \
    TOKENMETER_SPOOL_DIR=/var/lib/tokenmeter/spool
USER node

# 4318: OTLP/HTTP, read API, /metrics. 8787: the OpenAI/Anthropic-compatible proxy.
EXPOSE 4318 8787
CMD ["node", "collector/dist/cli/main.js", "start"]
