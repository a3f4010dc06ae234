-- GET /Track?limit=100 (PostgreSQL's Chinook: /track?limit=100): the first page, in key order.
local path = (os.getenv("BENCH_TRACK_PATH") or "/Track") .. "?limit=100"

function make_request()
  return wrk.format("GET", path)
end

dofile(os.getenv("BENCH_LUA") .. "/common.lua")
