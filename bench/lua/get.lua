-- GET /users/{id}, a random id in 1..BENCH_MAX_ID (with BENCH_TENANT: an x-tenant header).
function make_request()
  return wrk.format("GET", "/users/" .. math.random(1, max_id), read_headers)
end

dofile(os.getenv("BENCH_LUA") .. "/common.lua")
