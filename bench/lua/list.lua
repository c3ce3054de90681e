-- GET /api/v1/items?limit=20: the first page (ids in order) and its next-page URL.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

wrk.method = "GET"
wrk.path = "/api/v1/items?limit=20"
