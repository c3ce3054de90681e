-- GET /api/v1/items?limit=20: one page and the total count.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

wrk.method = "GET"
wrk.path = "/api/v1/items?limit=20"
