-- The results store: every provisioning.result, one row each, kept for the configured retention.
-- No schema is named here: migrate() sets search_path to the runtime's state schema.

CREATE TABLE results (
  -- The result event's own id: a replay of the results topic inserts nothing twice.
  event_id        text PRIMARY KEY,
  source_event_id text NOT NULL,
  person_id       text NOT NULL,
  target          text NOT NULL,
  run_id          text,
  mode            text NOT NULL,
  log_only        boolean NOT NULL,
  outcome         text NOT NULL,
  skip_reason     text,
  entitled        boolean,
  account_id      text,
  operations      jsonb NOT NULL DEFAULT '[]',
  error           jsonb,
  counters        jsonb NOT NULL DEFAULT '{}',
  duration_ms     integer,
  coalesced_into  text,
  processed_at    timestamptz NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX results_person_idx ON results (lower(person_id), processed_at DESC);
CREATE INDEX results_target_idx ON results (target, processed_at DESC);
CREATE INDEX results_run_idx ON results (run_id, target) WHERE run_id IS NOT NULL;
CREATE INDEX results_time_idx ON results (processed_at);

-- Runs published by a command (sync, replay, redrive, guard release): what a report compares the results with.
CREATE TABLE runs (
  run_id       text PRIMARY KEY,
  mode         text NOT NULL,
  source       text NOT NULL,
  log_only     boolean NOT NULL,
  -- The targets the run's events are addressed to (all enabled ones when the events name none).
  targets      text[] NOT NULL,
  published    integer NOT NULL DEFAULT 0,
  started_at   timestamptz NOT NULL DEFAULT now(),
  -- Set once every event of the run is published.
  published_at timestamptz
);
CREATE INDEX runs_started_idx ON runs (started_at);
