// The hosted checkout's behaviour. The page allows no inline script (CSP script-src 'self'), so everything
// this needs comes from data- attributes the server rendered.
(() => {
  "use strict";
  const root = document.querySelector("[data-checkout]");
  if (!root) {
    return;
  }
  const pageUrl = root.dataset.pageUrl;
  // Replace, not reload: a reload would keep an `error=` from an earlier form post in the address.
  const showCurrentState = () => window.location.replace(pageUrl);

  const clock = (seconds) => {
    const hours = Math.floor(seconds / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    const rest = String(seconds % 60).padStart(2, "0");
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${String(minutes).padStart(2, "0")}:${rest}`;
  };

  const countdown = root.querySelector("[data-expires-at]");
  if (countdown) {
    const expiresAt = Date.parse(countdown.dataset.expiresAt);
    // Count on the server's clock: the customer's phone may be minutes off.
    const skew = Date.parse(countdown.dataset.serverNow) - Date.now();
    const tick = () => {
      const left = expiresAt - (Date.now() + skew);
      countdown.textContent = clock(Math.max(0, Math.ceil(left / 1000)));
      // A second's grace, so the server agrees the order is past its time when the page asks.
      if (left < -1000) {
        window.clearInterval(timer);
        showCurrentState();
      }
    };
    const timer = window.setInterval(tick, 250);
    tick();
  }

  const statusUrl = root.dataset.statusUrl;
  let poll = () => Promise.resolve();
  if (statusUrl) {
    const shown = root.dataset.status;
    let moved = false;
    poll = () =>
      fetch(statusUrl, { cache: "no-store", headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : null))
        .then((body) => {
          if (body && body.status !== shown && !moved) {
            moved = true;
            showCurrentState();
          }
        })
        .catch(() => undefined); // a dropped poll is retried by the next one
    window.setInterval(poll, 2000);
  }

  for (const button of root.querySelectorAll("[data-copy]")) {
    const label = button.textContent;
    const selectNumber = () => {
      // Without clipboard access (a plain-http address) the number is selected for the customer to copy.
      const number = button.parentElement.querySelector("code");
      if (number) {
        window.getSelection().selectAllChildren(number);
      }
    };
    button.addEventListener("click", () => {
      if (!navigator.clipboard) {
        selectNumber();
        return;
      }
      navigator.clipboard.writeText(button.dataset.copy).then(() => {
        button.textContent = button.dataset.copiedText;
        window.setTimeout(() => {
          button.textContent = label;
        }, 2000);
      }, selectNumber);
    });
  }

  const sandboxButtons = root.querySelectorAll("[data-sandbox-url]");
  const sandboxError = root.querySelector("[data-sandbox-error]");
  for (const button of sandboxButtons) {
    button.addEventListener("click", () => {
      sandboxButtons.forEach((each) => { each.disabled = true; });
      fetch(button.dataset.sandboxUrl, { method: "POST", headers: { Accept: "application/json" } })
        .then((response) => {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return poll();
        })
        .catch(() => {
          sandboxError.hidden = false;
          sandboxButtons.forEach((each) => { each.disabled = false; });
        });
    });
  }

  const back = root.querySelector("[data-return-after]");
  if (back) {
    window.setTimeout(() => window.location.assign(back.href), Number(back.dataset.returnAfter) * 1000);
  }
})();
