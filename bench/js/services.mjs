// The JavaScript side of the benchmark: the same services, handlers and work as bench/services.py.
// Run: node --import ./bench/js/polyfill.mjs bench/js/services.mjs   (SERVICE_PORT, default 9080)
import * as restate from "@restatedev/restate-sdk";

const echo = restate.service({
  name: "echo",
  handlers: {
    echo: async (ctx, message) => message,
  },
});

const add = async (n) => n + 1;

const steps = restate.service({
  name: "steps",
  handlers: {
    threeSteps: async (ctx, n) => {
      const a = await ctx.run("one", () => add(n));
      const b = await ctx.run("two", () => add(a));
      return await ctx.run("three", () => add(b));
    },
  },
});

// durablerpc's product object, line for line (one log line per reservation, as the Python side).
const product = restate.object({
  name: "product",
  handlers: {
    reserve: async (ctx) => {
      if (await ctx.get("reserved")) {
        console.log(`Product already reserved ${ctx.key}`);
        return false;
      }
      console.log(`Reserving product ${ctx.key}`);
      ctx.set("reserved", true);
      return true;
    },
  },
});

restate.serve({ services: [echo, steps, product], port: Number(process.env.SERVICE_PORT ?? 9080) });
