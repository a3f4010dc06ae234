-- GET /users?limit=N&offset=0&age__gte=30&sort=-created_at: a filter and a sort on an indexed column.
-- With BENCH_TENANT, its x-tenant header. offset=0 is spelled out because FastCRUD returns 100 rows unless it gets both offset and limit.
local path = "/users?limit=" .. (os.getenv("BENCH_LIMIT") or "20") .. "&offset=0&age__gte=30&sort=-created_at"

function make_request()
  return wrk.format("GET", path, read_headers)
end

dofile(os.getenv("BENCH_LUA") .. "/common.lua")
