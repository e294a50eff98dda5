-- PostgreSQL's migration 3 (append notifications) has no counterpart here: SQLite wakes
-- subscribers in-process. The number is taken so that migrations are numbered alike on
-- every backend.
SELECT 1;
