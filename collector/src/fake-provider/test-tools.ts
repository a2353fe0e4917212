/** OpenAI-format tool definitions the tests ask the fake provider to call. */
export const WEATHER_TOOL = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: {
      type: "object",
      properties: { location: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
      required: ["location", "unit"],
    },
  },
};

export const TIME_TOOL = {
  type: "function" as const,
  function: { name: "get_time", parameters: { type: "object", properties: { timezone: { type: "string" } } } },
};
