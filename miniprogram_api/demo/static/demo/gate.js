/* The exit gate's screen: staff paste (or scan) a pass and see the server's decision. */
"use strict";

(() => {
  const { api, yuan, el, status, guarded, show, localTime } = demo;
  const $ = (id) => document.getElementById(id);
  const CREDENTIAL_KEY = "demo-gate-credential";
  let auditId = null;

  // The credential stays in this tab only (sessionStorage), never in the page's address.
  $("credential").value = sessionStorage.getItem(CREDENTIAL_KEY) || "";

  function authorization() {
    const credential = $("credential").value.trim().replace(/^Gate\s+/i, "");
    if (!credential.includes(":")) throw new Error("Enter the gate credential as key_id:secret.");
    sessionStorage.setItem(CREDENTIAL_KEY, credential);
    return `Gate ${credential}`;
  }

  $("gate-form").addEventListener(
    "submit",
    guarded(async () => {
      const token = $("token").value.trim();
      if (!token) throw new Error("Paste or scan an exit pass first.");
      await verify(token);
    }),
  );

  async function verify(token) {
    const decision = await api("POST", "/api/gate/v1/verify", { authorization: authorization(), body: { token } });
    render(decision);
  }

  function render(decision) {
    const section = $("decision");
    section.className = decision.decision;
    $("decision-word").textContent = decision.decision.toUpperCase();
    $("decision-reason").textContent = decision.reason;
    $("decision-message").textContent = decision.message;
    const pass = decision.pass;
    const staff = decision.staff;
    $("decision-pass").textContent = pass
      ? `Order ${pass.order_number}: ${staff.item_count} items, ${yuan(staff.total_fen)}` +
        (staff.age_restricted_items.length ? `; check ID for ${staff.age_restricted_items.join(", ")}` : "") +
        (staff.audit_reasons.length ? `; audit: ${staff.audit_reasons.join(", ")}` : "")
      : "";
    $("decision-used").textContent = decision.used_at
      ? `Used ${localTime(decision.used_at)}${decision.used_gate ? ` at ${decision.used_gate.name}` : ""}.`
      : "";
    auditId = decision.decision === "audit" ? decision.audit_id : null;
    show("audit", auditId !== null);
    show("decision");
    $("history").prepend(
      el("li", { className: decision.decision }, `${decision.decision} (${decision.reason})`, pass ? ` · ${pass.order_number}` : ""),
    );
    status(`Gate: ${decision.decision} (${decision.reason}).`, decision.decision === "open" ? "ok" : "error");
  }

  async function resolve(outcome) {
    const result = await api("POST", `/api/gate/v1/audits/${auditId}/resolve`, {
      authorization: authorization(),
      body: { outcome, note: "demo gate page" },
    });
    render({ ...result, pass: null, staff: null, used_at: null, used_gate: null });
  }

  $("audit-passed").addEventListener("click", guarded(() => resolve("passed")));
  $("audit-failed").addEventListener("click", guarded(() => resolve("failed")));

  // --- The camera, where the browser can read QR codes itself -------------------------------

  if ("BarcodeDetector" in window) {
    show("camera");
    $("camera").addEventListener("click", guarded(scanWithCamera));
  }

  async function scanWithCamera() {
    const detector = new BarcodeDetector({ formats: ["qr_code"] });
    const video = $("preview");
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.srcObject = stream;
    show("preview");
    await video.play();
    status("Hold the exit pass in front of the camera…");
    try {
      for (;;) {
        const codes = await detector.detect(video);
        const pass = codes.find((code) => code.rawValue.startsWith("EP1."));
        if (pass) {
          $("token").value = pass.rawValue;
          await verify(pass.rawValue);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      for (const track of stream.getTracks()) track.stop();
      show("preview", false);
    }
  }
})();
