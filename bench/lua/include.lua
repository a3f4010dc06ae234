-- GET /posts?include=author&limit=N&offset=0&sort=id: the first N posts by id, each with its author embedded.
-- offset=0 is spelled out because FastCRUD returns 100 rows unless it gets both offset and limit, and
-- sort=id because its joined read has no order of its own (the hand-written routes order by id anyway).
local path = "/posts?include=author&limit=" .. (os.getenv("BENCH_LIMIT") or "100") .. "&offset=0&sort=id"

function make_request()
  return wrk.format("GET", path)
end

dofile(os.getenv("BENCH_LUA") .. "/common.lua")
