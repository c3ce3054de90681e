-- GET /healthz: liveness, no database.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

-- Probes come from a load balancer or orchestrator, never with a user's token: like the
-- reference apps' requests, these carry none (common.lua adds it for the API's endpoints).
wrk.headers["Authorization"] = nil
wrk.method = "GET"
wrk.path = "/healthz"
