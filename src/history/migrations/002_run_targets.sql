-- How many events of a run each target is to answer: a redrive or a guard release sends different
-- people to different targets under one run id.
ALTER TABLE runs ADD COLUMN expected jsonb NOT NULL DEFAULT '{}';
