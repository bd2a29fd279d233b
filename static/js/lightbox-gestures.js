// Pointer gestures on the lightbox's stage. One finger (or the mouse) swipes to the next or previous item — on a
// video too, anywhere above its controls — drags a zoomed photo, or swipes down to close; two fingers pinch; a
// double tap (touch) or a double click (mouse) zooms. A touch double tap is followed by the browser's own
// dblclick, so a dblclick after a touch is ignored: one or the other, never both.
//
//   new Gestures(stage, host);   // host: { photo (a PhotoView or null), media, step(delta), close() }

const SWIPE_PX = 50;
const DOUBLE_TAP_MS = 300;
const DOUBLE_TAP_PX = 40;
const VIDEO_CONTROLS_PX = 64;  // the native controls' strip at the bottom of a video: taps there are the video's
const WHEEL_STEP = 1.2;

export class Gestures {
  constructor(stage, host) {
    Object.assign(this, { stage, host });
    this.pointers = new Map();
    this.gesture = null;
    this.lastTap = null;
    this.lastPointerType = "mouse";
    this.swiped = false;
    stage.addEventListener("pointerdown", (e) => this.down(e));
    stage.addEventListener("pointermove", (e) => this.move(e));
    for (const type of ["pointerup", "pointercancel", "pointerleave"]) stage.addEventListener(type, (e) => this.up(e));
    stage.addEventListener("dblclick", (e) => this.dblclick(e));
    stage.addEventListener("click", (e) => this.afterSwipe(e), true);
    stage.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
  }

  down(event) {
    this.lastPointerType = event.pointerType || "mouse";
    if (event.target.closest("button") || this.onVideoControls(event)) return;
    const photo = this.host.photo;
    if (photo) {
      try {
        this.stage.setPointerCapture(event.pointerId);  // keep the gesture when the finger leaves the stage
      } catch {
        // not an active pointer (synthetic events): the gesture still works without capture
      }
    }
    this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (this.pointers.size === 2 && photo) {
      this.gesture = { kind: "pinch", distance: this.distance(), scale: photo.zoom.scale };
    } else if (this.pointers.size === 1) {
      const zoom = photo?.zoom || { x: 0, y: 0 };
      this.gesture = { kind: "pan", x: event.clientX, y: event.clientY, startX: zoom.x, startY: zoom.y };
      if (event.pointerType === "touch" && photo) this.doubleTap(event);
    }
  }

  move(event) {
    if (!this.pointers.has(event.pointerId) || !this.gesture) return;
    this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    const photo = this.host.photo;
    if (this.gesture.kind === "pinch" && this.pointers.size === 2) {
      photo?.setZoom(this.gesture.scale * this.distance() / this.gesture.distance);
    } else if (this.gesture.kind === "pan" && photo?.zoom.scale > 1) {
      photo.panTo(this.gesture.startX + event.clientX - this.gesture.x, this.gesture.startY + event.clientY - this.gesture.y);
    }
  }

  up(event) {
    if (!this.pointers.has(event.pointerId)) return;
    this.pointers.delete(event.pointerId);
    const gesture = this.gesture;
    if (this.pointers.size > 0) return;
    this.gesture = null;
    if (gesture?.kind !== "pan" || (this.host.photo?.zoom.scale || 1) > 1) return;
    const dx = event.clientX - gesture.x;
    const dy = event.clientY - gesture.y;
    if (Math.abs(dx) > SWIPE_PX && Math.abs(dx) > Math.abs(dy)) {
      this.swiped = true;
      this.host.step(dx < 0 ? 1 : -1);
    } else if (dy > SWIPE_PX * 2 && Math.abs(dy) > Math.abs(dx)) {
      this.swiped = true;
      this.host.close();  // swipe down closes
    }
  }

  // A mouse swipe across a video ends in a click, which would play or pause it: a swipe is not a click.
  afterSwipe(event) {
    if (!this.swiped) return;
    this.swiped = false;
    event.preventDefault();
    event.stopPropagation();
  }

  onVideoControls(event) {
    const media = this.host.media;
    if (media?.tagName !== "VIDEO" || !media.contains(event.target)) return false;
    return event.clientY > media.getBoundingClientRect().bottom - VIDEO_CONTROLS_PX;
  }

  doubleTap(event) {
    const now = Date.now();
    const last = this.lastTap;
    if (last && now - last.time < DOUBLE_TAP_MS && Math.hypot(event.clientX - last.x, event.clientY - last.y) < DOUBLE_TAP_PX) {
      this.host.photo.toggleZoom({ x: event.clientX, y: event.clientY });
      this.lastTap = null;
    } else {
      this.lastTap = { time: now, x: event.clientX, y: event.clientY };
    }
  }

  dblclick(event) {
    if (this.lastPointerType === "touch" || !this.host.photo || event.target.closest("button")) return;
    event.preventDefault();
    this.host.photo.toggleZoom({ x: event.clientX, y: event.clientY });
  }

  wheel(event) {
    const photo = this.host.photo;
    if (!photo) return;
    event.preventDefault();
    photo.setZoom(photo.zoom.scale * (event.deltaY < 0 ? WHEEL_STEP : 1 / WHEEL_STEP), { x: event.clientX, y: event.clientY });
  }

  distance() {
    const [a, b] = [...this.pointers.values()];
    return Math.hypot(a.x - b.x, a.y - b.y) || 1;
  }
}
