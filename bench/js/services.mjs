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

// sagas: BookingWorkflow, flights and cars, as sagas/booking_workflow.py, flights.py, cars.py (the
// payment provider succeeds at once, as the Python side runs with PATTERNS_FAILURES=0).
const twoPhase = (name, noun, idField) =>
  restate.service({
    name,
    handlers: {
      reserve: async (ctx) => {
        const bookingId = ctx.rand.uuidv4();
        console.log(`${noun} ${bookingId} reserved`);
        return bookingId;
      },
      confirm: async (ctx, booking) => {
        console.log(`${noun} ${booking[idField]} confirmed`);
      },
      cancel: async (ctx, booking) => {
        console.log(`${noun} ${booking[idField]} cancelled`);
      },
    },
  });
const flights = twoPhase("flights", "Flight", "flightBookingId");
const cars = twoPhase("cars", "Car", "carBookingId");

const charge = async (paymentInfo, paymentId) => {
  console.log(`Payment ${paymentId} processed`);
};

const bookingWorkflow = restate.workflow({
  name: "BookingWorkflow",
  handlers: {
    run: async (ctx, request) => {
      const compensations = [];
      try {
        const flightBooking = { flightBookingId: await ctx.serviceClient(flights).reserve(request.flights) };
        compensations.push(() => ctx.serviceClient(flights).cancel(flightBooking));
        const carBooking = { carBookingId: await ctx.serviceClient(cars).reserve(request.car) };
        compensations.push(() => ctx.serviceClient(cars).cancel(carBooking));
        const paymentId = ctx.rand.uuidv4();
        compensations.push(() => ctx.run("refund", () => console.log(`Payment ${paymentId} refunded`)));
        await ctx.run("charge", () => charge(request.paymentInfo, paymentId));
        await ctx.serviceClient(flights).confirm(flightBooking);
        await ctx.serviceClient(cars).confirm(carBooking);
        return { ...flightBooking, ...carBooking, paymentId };
      } catch (e) {
        if (e instanceof restate.TerminalError) {
          for (const compensation of compensations.reverse()) {
            await compensation();
          }
        }
        throw e;
      }
    },
  },
});

// parallelizework: worker/run fans out one runSubtask invocation per comma-separated part, as
// parallelizework/fan_out_worker.py (the subtask's sleep is 0 s on both sides: PATTERNS_DURATION_...=0ms).
const worker = restate.service({
  name: "worker",
  handlers: {
    run: async (ctx, task) => {
      const parts = await ctx.run("split task", async () => task.description.split(","));
      const calls = parts.map((part) => ctx.serviceClient(worker).runSubtask({ description: part }));
      const results = await restate.RestatePromise.all(calls);
      const joined = results.map((result) => result.description).join(",");
      console.log(`Aggregated result: ${joined}`);
      return { description: joined };
    },
    runSubtask: async (ctx, subtask) => {
      console.log(`Started executing subtask: ${subtask.description}`);
      Math.floor(ctx.rand.random() * 5); // drawn as the Python side draws; the sleep is 0 s here
      await ctx.sleep(0);
      console.log(`Execution subtask finished: ${subtask.description}`);
      return { description: `${subtask.description}: DONE` };
    },
  },
});

// statemachinepayments: payments/<id>/makePayment withdraws from accounts/<accountId>, as
// statemachinepayments/payment_service.py and accounts.py (initial balance from the same variable).
const accounts = restate.object({
  name: "accounts",
  handlers: {
    withdraw: async (ctx, amountCents) => {
      if (!Number.isInteger(amountCents) || amountCents <= 0) {
        throw new restate.TerminalError(`Amount must be greater than 0: amount = ${amountCents}`, { errorCode: 400 });
      }
      let balance = await ctx.get("balance");
      if (balance === null) {
        const configured = (process.env.STATEMACHINEPAYMENTS_INITIAL_BALANCE ?? "").trim();
        balance = configured ? Number(configured) : 100000 + Math.floor(ctx.rand.random() * 100000);
        ctx.set("balance", balance);
      }
      if (balance < amountCents) {
        return { success: false, reason: `Insufficient funds: ${balance} cents` };
      }
      ctx.set("balance", balance - amountCents);
      return { success: true };
    },
  },
});

const payments = restate.object({
  name: "payments",
  handlers: {
    makePayment: async (ctx, payment) => {
      const status = await ctx.get("status");
      if (status === "COMPLETED") return `${ctx.key} previously completed`;
      if (status === "CANCELLED") return `${ctx.key} was cancelled before`;
      const result = await ctx.objectClient(accounts, payment.accountId).withdraw(payment.amount);
      if (result.success) {
        ctx.set("status", "COMPLETED");
        ctx.set("payment", payment);
        ctx.objectSendClient(payments, ctx.key).expireToken(restate.rpc.sendOpts({ delay: { hours: 1 } }));
      }
      return `${ctx.key} successful: ${result.success}`;
    },
    expireToken: async (ctx) => {
      ctx.clearAll();
    },
  },
});

restate.serve({
  services: [echo, steps, product, bookingWorkflow, flights, cars, worker, accounts, payments],
  port: Number(process.env.SERVICE_PORT ?? 9080),
});
