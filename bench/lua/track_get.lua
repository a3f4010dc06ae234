-- GET /Track/{id} (PostgreSQL's Chinook: /track/{id}), a random id in 1..3503.
local path = os.getenv("BENCH_TRACK_PATH") or "/Track"

function make_request()
  return wrk.format("GET", path .. "/" .. math.random(1, 3503))
end

dofile(os.getenv("BENCH_LUA") .. "/common.lua")
