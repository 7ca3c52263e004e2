// @restatedev/restate-sdk 1.17 calls Promise.withResolvers, which Node 20 lacks (Node >= 22 has it).
// Without it every invocation fails and is retried forever, although registration succeeds.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
