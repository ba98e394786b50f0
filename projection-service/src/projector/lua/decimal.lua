-- Exact decimal addition on strings, for revenue (HINCRBYFLOAT is binary floating point and
-- would turn 0.1 + 0.2 into 0.30000000000000004).
--
-- Inputs are what Rust's `Money` prints: an optional '-', digits, optionally '.' and digits
-- (never an exponent, never a leading '.'). The result is normalised the same way: no leading
-- zeros in the integer part, no trailing zeros in the fraction, "0" rather than "-0".

local function dec_split(s)
  local negative = false
  if string.sub(s, 1, 1) == '-' then
    negative = true
    s = string.sub(s, 2)
  end
  local int, frac = string.match(s, '^(%d+)%.?(%d*)$')
  if not int then
    error('not a decimal: ' .. s)
  end
  return negative, int, frac
end

-- x + y for digit strings of equal length.
local function digits_add(x, y)
  local out, carry = {}, 0
  for i = #x, 1, -1 do
    local d = string.byte(x, i) + string.byte(y, i) - 96 + carry
    if d >= 10 then d, carry = d - 10, 1 else carry = 0 end
    out[i] = d
  end
  local s = table.concat(out)
  if carry == 1 then s = '1' .. s end
  return s
end

-- x - y for digit strings of equal length with x >= y.
local function digits_sub(x, y)
  local out, borrow = {}, 0
  for i = #x, 1, -1 do
    local d = string.byte(x, i) - string.byte(y, i) - borrow
    if d < 0 then d, borrow = d + 10, 1 else borrow = 0 end
    out[i] = d
  end
  return table.concat(out)
end

local function dec_add(a, b)
  local a_neg, a_int, a_frac = dec_split(a)
  local b_neg, b_int, b_frac = dec_split(b)
  local scale = math.max(#a_frac, #b_frac)
  local x = a_int .. a_frac .. string.rep('0', scale - #a_frac)
  local y = b_int .. b_frac .. string.rep('0', scale - #b_frac)
  local width = math.max(#x, #y)
  x = string.rep('0', width - #x) .. x
  y = string.rep('0', width - #y) .. y
  local negative, magnitude
  if a_neg == b_neg then
    negative, magnitude = a_neg, digits_add(x, y)
  elseif x >= y then
    negative, magnitude = a_neg, digits_sub(x, y)
  else
    negative, magnitude = b_neg, digits_sub(y, x)
  end
  local int = string.sub(magnitude, 1, #magnitude - scale)
  local frac = string.sub(magnitude, #magnitude - scale + 1)
  int = (string.gsub(int, '^0+', ''))
  frac = (string.gsub(frac, '0+$', ''))
  if int == '' then int = '0' end
  local result = int
  if frac ~= '' then result = result .. '.' .. frac end
  if negative and result ~= '0' then result = '-' .. result end
  return result
end

-- HINCRBY for exact decimals: adds `amount` to the decimal in hash field `field`.
local function hincr_decimal(key, field, amount)
  local current = redis.call('HGET', key, field) or '0'
  redis.call('HSET', key, field, dec_add(current, amount))
end

local function negate(amount)
  if string.sub(amount, 1, 1) == '-' then return string.sub(amount, 2) end
  return '-' .. amount
end
