/* The shopper's scan & pay journey, through the public API as the mini-program makes it. */
"use strict";

(() => {
  const { api, yuan, el, status, guarded, uuid, show, localTime } = demo;
  const $ = (id) => document.getElementById(id);
  const PRODUCTS_LISTED = 12;
  const LABEL_WEIGHT_G = 850; // what the demo "puts on the scale" for a weighed product
  const state = { authorization: null, store: null, basket: null, order: null, exitPassUrl: null };

  const call = (method, path, options = {}) => api(method, path, { authorization: state.authorization, ...options });

  // --- 1. Log in ----------------------------------------------------------------------------

  $("login-form").addEventListener(
    "submit",
    guarded(async () => {
      const shopper = $("shopper").value.trim();
      status(`Logging in as ${shopper}…`);
      const { code } = await api("POST", "/sandbox/wechat/login-codes", { body: { shopper } });
      const login = await api("POST", "/api/v1/auth/wechat-login", { body: { code } });
      state.authorization = `Bearer ${login.token}`;
      for (const id of ["scan-step", "basket-step", "checkout-step", "order", "pay-step", "exit-step"]) show(id, false);
      const customer = login.customer;
      $("who").textContent = `Logged in as ${customer.nickname || shopper} (customer ${customer.id}${
        login.created ? ", new" : ""
      }).`;
      status("Logged in. Choose a store.", "ok");
      show("store-step");
      await loadStores();
    }),
  );

  // --- 2. Stores ----------------------------------------------------------------------------

  $("stores-form").addEventListener("submit", guarded(loadStores));

  async function loadStores() {
    const query = new URLSearchParams({ lat: $("lat").value.trim(), lng: $("lng").value.trim(), page_size: "10" });
    const page = await call("GET", `/api/v1/stores?${query}`);
    const list = $("stores");
    list.replaceChildren();
    for (const store of page.results) {
      const usable = store.scan_and_go_enabled && store.is_open_now;
      const why = !store.scan_and_go_enabled ? "no scan & go" : !store.is_open_now ? "closed now" : "scan & go, open";
      list.append(
        el(
          "li",
          { dataset: { storeId: store.id } },
          el("button", { type: "button", disabled: !usable, onclick: guarded(() => chooseStore(store)) }, store.name),
          ` ${store.code} · ${store.distance_m === null ? "" : `${store.distance_m} m · `}${why}`,
        ),
      );
    }
    if (!page.results.length) status("No store near these coordinates.", "error");
  }

  async function chooseStore(store) {
    state.store = store;
    const basket = await call("POST", "/api/v1/baskets", { body: { store_id: store.id } });
    $("store-name").textContent = store.name;
    show("scan-step");
    renderBasket(basket);
    status(`Basket ${basket.id} open at ${store.name}.`, "ok");
    await loadProducts("");
  }

  // --- 3. Scanning --------------------------------------------------------------------------

  $("scan-form").addEventListener(
    "submit",
    guarded(async () => {
      const barcode = $("barcode").value.trim();
      const quantity = Number.parseInt($("quantity").value, 10) || 1;
      await scan(barcode, quantity);
      $("barcode").value = "";
      $("quantity").value = "1";
    }),
  );

  async function scan(barcode, quantity = 1) {
    const body = quantity === 1 ? { barcode } : { barcode, quantity };
    const basket = await call("POST", `/api/v1/baskets/${state.basket.id}/scan`, { body });
    renderBasket(basket);
    const line = basket.lines.find((l) => l.id === basket.scanned_line_id);
    status(`Scanned ${barcode}: ${line ? line.product.name : "added"}.`, "ok");
  }

  $("products-form").addEventListener(
    "submit",
    guarded(() => loadProducts($("product-search").value.trim())),
  );

  /** A scale label for a weighed product: prefix 25, item code, grams, GS1 check digit. */
  function weightLabel(plu, grams) {
    const body = `25${plu}${String(grams).padStart(5, "0")}`;
    let sum = 0;
    for (let i = 0; i < body.length; i += 1) {
      const fromRight = body.length - 1 - i;
      sum += Number(body[i]) * (fromRight % 2 === 0 ? 3 : 1);
    }
    return body + String((10 - (sum % 10)) % 10);
  }

  /** The catalogue page, each product's barcode, then what it is at this store: only what
   * the store carries is listed, priced as the scan would price it. */
  async function loadProducts(search) {
    const listing = (state.listing = (state.listing || 0) + 1);
    const query = new URLSearchParams({ page_size: "20" });
    if (search) query.set("search", search);
    const page = await call("GET", `/api/v1/products?${query}`);
    const found = await Promise.all(page.results.map(carriedHere));
    if (listing !== state.listing) return; // a newer search answered first, or will
    const carried = found.filter(Boolean).slice(0, PRODUCTS_LISTED);
    const list = $("products");
    list.replaceChildren();
    for (const { product, barcode, lookup } of carried) {
      const weight = lookup.weight_g ? ` (${lookup.weight_g} g on the scale)` : "";
      list.append(
        el(
          "li",
          { dataset: { productId: product.id } },
          el("button", { type: "button", className: "barcode", onclick: guarded(() => scan(barcode)) }, barcode),
          ` ${product.name}${weight} · ${yuan(lookup.line_price_fen)}${lookup.in_stock ? "" : " · out of stock"}`,
        ),
      );
    }
    if (!carried.length) list.append(el("li", {}, "Nothing found at this store."));
  }

  async function carriedHere(summary) {
    const product = await call("GET", `/api/v1/products/${summary.id}`);
    let barcode = null;
    if (product.sold_by_weight) barcode = product.plu_code ? weightLabel(product.plu_code, LABEL_WEIGHT_G) : null;
    else barcode = product.barcodes[0] || null;
    if (!barcode) return null;
    try {
      const query = new URLSearchParams({ barcode });
      const lookup = await call("GET", `/api/v1/stores/${state.store.id}/products/lookup?${query}`);
      return { product, barcode, lookup };
    } catch (error) {
      if (error instanceof demo.ApiError && error.status < 500) return null; // not sold here, or not a code we know
      throw error;
    }
  }

  // --- 4. The basket ------------------------------------------------------------------------

  function renderBasket(basket) {
    state.basket = basket;
    const rows = basket.lines.map((line) =>
      el(
        "tr",
        { dataset: { lineId: line.id } },
        el("td", {}, line.product.name),
        el("td", {}, el("code", {}, line.barcode)),
        el("td", { className: "num" }, line.weight_g ? `${line.weight_g} g` : String(line.quantity)),
        el("td", { className: "num" }, `${yuan(line.unit_price_fen)}${line.weight_g ? "/kg" : ""}`),
        el("td", { className: "num" }, yuan(line.line_total_fen)),
        el("td", { className: "num" }, line.discount_fen ? `-${yuan(line.discount_fen)}` : ""),
        el("td", { className: "num" }, yuan(line.final_fen)),
        el(
          "td",
          {},
          basket.status === "open"
            ? el("button", { type: "button", title: "Remove", onclick: guarded(() => removeLine(line.id)) }, "×")
            : null,
        ),
      ),
    );
    $("basket-lines").replaceChildren(...rows);
    $("adjustments").replaceChildren(
      ...basket.adjustments.map((a) => el("li", {}, `${a.label}: -${yuan(a.amount_fen)}`)),
    );
    $("subtotal").textContent = yuan(basket.goods_subtotal_fen);
    $("discount").textContent = basket.discount_fen ? `-${yuan(basket.discount_fen)}` : yuan(0);
    $("total").textContent = yuan(basket.total_fen);
    $("item-count").textContent = String(basket.item_count);
    show("basket-step");
    show("checkout-step", basket.lines.length > 0);
    $("checkout").disabled = basket.status !== "open" && basket.status !== "frozen";
    if (basket.lines.length && basket.status === "open") loadCoupons().catch((error) => status(error.message, "error"));
  }

  async function removeLine(lineId) {
    renderBasket(await call("DELETE", `/api/v1/baskets/${state.basket.id}/lines/${lineId}`));
    status("Line removed.", "ok");
  }

  // --- 5. Checkout --------------------------------------------------------------------------

  async function loadCoupons() {
    const query = new URLSearchParams({ status: "available", basket_id: state.basket.id, page_size: "50" });
    const page = await call("GET", `/api/v1/coupons?${query}`);
    const box = $("coupons");
    box.replaceChildren(el("legend", {}, "My coupons that fit this basket"));
    for (const coupon of page.results) {
      const why = coupon.applies ? `-${yuan(coupon.discount_fen)}` : `does not apply: ${coupon.reason}`;
      box.append(
        el(
          "label",
          { className: "block" },
          el("input", { type: "checkbox", name: "coupon_ids", value: coupon.id, disabled: !coupon.applies }),
          ` ${coupon.name} (${why})`,
        ),
      );
    }
    if (!page.results.length) box.append(el("span", { className: "hint" }, "No coupons in the wallet."));
    await loadOffers();
  }

  async function loadOffers() {
    const page = await call("GET", "/api/v1/coupon-offers?page_size=50");
    const offers = page.results.filter((offer) => offer.may_still_claim > 0 && offer.remaining !== 0);
    $("offers").replaceChildren(
      ...offers.map((offer) =>
        el(
          "li",
          { dataset: { offerId: offer.id } },
          el("button", { type: "button", onclick: guarded(() => claim(offer)) }, "Claim"),
          ` ${offer.name}${offer.channels === "delivery" ? " · delivery orders only" : ""}`,
        ),
      ),
    );
    if (!offers.length) $("offers").append(el("li", { className: "hint" }, "Nothing to claim now."));
  }

  async function claim(offer) {
    await call("POST", `/api/v1/coupon-offers/${offer.id}/claim`);
    status(`Claimed ${offer.name}.`, "ok");
    await loadCoupons();
  }

  $("checkout-form").addEventListener(
    "submit",
    guarded(async () => {
      const method = document.querySelector("input[name=payment_method]:checked").value;
      const couponIds = Array.from(document.querySelectorAll("input[name=coupon_ids]:checked"), (c) =>
        Number(c.value),
      );
      const body = { payment_method: method };
      if (couponIds.length) body.coupon_ids = couponIds;
      const result = await call("POST", `/api/v1/baskets/${state.basket.id}/checkout`, {
        body,
        headers: { "Idempotency-Key": uuid() },
      });
      renderBasket(await call("GET", `/api/v1/baskets/${state.basket.id}`));
      renderOrder(result.order);
      $("payment-params").textContent = JSON.stringify(result.payment_params, null, 2);
      if (result.order.state === "paid") {
        await showExitPass();
      } else {
        $("pay-provider").textContent = method === "alipay" ? "Alipay" : "WeChat Pay";
        show("pay-step");
        status(`Order ${result.order.number} awaits payment of ${yuan(result.order.payment.amount_fen)}.`, "ok");
      }
    }),
  );

  function renderOrder(order) {
    state.order = order;
    $("order-number").textContent = order.number;
    $("order-state").textContent = order.state.replace("_", " ");
    $("order-total").textContent = yuan(order.total_fen);
    $("order-discount").textContent = order.discount_fen ? ` after ${yuan(order.discount_fen)} off` : "";
    show("order");
  }

  // --- 6. Paying in the sandbox -------------------------------------------------------------

  $("confirm-payment").addEventListener(
    "click",
    guarded(async () => {
      const outTradeNo = state.order.payment.out_trade_no;
      status("Confirming on the phone…");
      await api("POST", `/sandbox/payments/${encodeURIComponent(outTradeNo)}/confirm`);
      const order = await waitUntilSettled(state.order.id);
      renderOrder(order);
      if (order.state !== "paid") throw new Error(`The order is ${order.state}, not paid.`);
      show("pay-step", false);
      await showExitPass();
    }),
  );

  /** The phone's callback is a hint; the order is the proof, and the notification may land a
   * moment after the confirmation. */
  async function waitUntilSettled(orderId) {
    for (let attempt = 0; attempt < 40; attempt += 1) {
      const order = await call("GET", `/api/v1/orders/${orderId}`);
      if (order.state !== "pending_payment") return order;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error("No payment notification yet; try again in a moment.");
  }

  // --- 7. The exit pass ---------------------------------------------------------------------

  async function showExitPass() {
    const order = state.order;
    const exitPass = await call("GET", `/api/v1/orders/${order.id}/exit-pass`);
    const response = await fetch(`/api/v1/orders/${order.id}/exit-pass.png`, {
      headers: { Authorization: state.authorization },
      credentials: "omit",
    });
    if (!response.ok) throw new demo.ApiError(response.status, await response.json().catch(() => null));
    if (state.exitPassUrl) URL.revokeObjectURL(state.exitPassUrl);
    state.exitPassUrl = URL.createObjectURL(await response.blob());
    $("exit-qr").src = state.exitPassUrl;
    $("paid").textContent = `Order ${order.number} is paid: ${yuan(order.total_fen)} for ${order.item_count} items.`;
    $("exit-state").textContent = exitPass.state;
    $("exit-expires").textContent = localTime(exitPass.expires_at);
    $("exit-token").textContent = exitPass.token;
    show("exit-step");
    $("checkout").disabled = true;
    status("Paid. Show the exit pass at the gate.", "ok");
  }

  $("copy-token").addEventListener(
    "click",
    guarded(async () => {
      const token = $("exit-token").textContent;
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(token);
        status("The pass is on the clipboard: paste it at the gate.", "ok");
      } else {
        window.getSelection().selectAllChildren($("exit-token"));
        status("The pass is selected: copy it and paste it at the gate.", "ok");
      }
    }),
  );

  $("new-basket").addEventListener(
    "click",
    guarded(async () => {
      for (const id of ["order", "pay-step", "exit-step"]) show(id, false);
      await chooseStore(state.store);
    }),
  );
})();
