// How values are named in error messages: "received an array of length 3",
// in the form Deno's standard library uses ("…: current value is …").

/** A short description of a received value, for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  switch (typeof value) {
    case "string":
      return `the string ${JSON.stringify(value.slice(0, 40))}`;
    case "number":
    case "bigint":
    case "boolean":
    case "undefined":
      return `${typeof value} ${String(value)}`;
    case "function":
      return `a function${value.name ? ` (${value.name})` : ""}`;
    case "symbol":
      return `a symbol`;
    default: {
      const name = Object.getPrototypeOf(value)?.constructor?.name;
      return name && name !== "Object" ? `an instance of ${name}` : "an object";
    }
  }
}
