-- GET /api/v1/items/<id> with a random id in 1..N (N: the first script argument, default 1000).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local max_id = 1000

function init(args)
   max_id = tonumber(args[1]) or max_id
   math.randomseed(os.time() * 1000 + thread_id)
end

function request()
   return wrk.format("GET", "/api/v1/items/" .. math.random(1, max_id))
end
