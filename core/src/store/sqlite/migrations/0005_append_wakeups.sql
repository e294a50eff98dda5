-- PostgreSQL's migration 5 (append wake-ups without a notifying append) has no
-- counterpart here. The number is taken so that migrations are numbered alike on every
-- backend.
SELECT 1;
