-- 0032_plan_applied_by: who applied a stored plan (a Slack user ID, "cli"),
-- so that a second Apply can say "already applied by … at …".

ALTER TABLE plans ADD COLUMN applied_by TEXT NOT NULL DEFAULT '';
