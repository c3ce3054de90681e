-- POST /api/v1/items with {"name": "bench-N"}: one insert and commit per request.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local counter = 0
wrk.headers["Content-Type"] = "application/json"

function request()
   counter = counter + 1
   return wrk.format("POST", "/api/v1/items", nil, '{"name": "bench-' .. counter .. '"}')
end
