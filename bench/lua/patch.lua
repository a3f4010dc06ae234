-- PATCH /users/{id} (a random id in 1..BENCH_MAX_ID) changing two plain columns.
local headers = {["Content-Type"] = "application/json"}

function make_request()
  local body = string.format('{"full_name":"Patched %d-%d","age":%d}', tid, counter, math.random(18, 80))
  return wrk.format("PATCH", "/users/" .. math.random(1, max_id), headers, body)
end

dofile(os.getenv("BENCH_LUA") .. "/common.lua")
