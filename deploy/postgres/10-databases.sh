#!/usr/bin/env bash
# The stack's databases, created on PostgreSQL's first start (the postgres image runs
# /docker-entrypoint-initdb.d/*.sh once, on an empty data volume): Prefect's, MLflow's backend
# store, and the monitoring history's (autoretrain). Owned by POSTGRES_USER; one that exists
# already (POSTGRES_DB may name one of them) is left as it is.
set -euo pipefail
for database in ${STACK_DATABASES:-prefect mlflow autoretrain}; do
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres --no-psqlrc \
        --set db="$database" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS
    (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
done
