-- GET /users/{id}, a random id in 1..BENCH_MAX_ID.
function make_request()
  return wrk.format("GET", "/users/" .. math.random(1, max_id))
end

dofile(os.getenv("BENCH_LUA") .. "/common.lua")
