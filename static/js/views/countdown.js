// A live "m:ss" countdown for lockouts: calls tick(text) every second, then done().

export function countdown(seconds, tick, done) {
  const until = Date.now() + Math.max(0, Number(seconds) || 0) * 1000;
  let timer = null;
  const step = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      clearInterval(timer);
      done();
      return;
    }
    tick(`${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`, left);
  };
  timer = setInterval(step, 250);
  step();
  return { stop: () => clearInterval(timer) };
}
