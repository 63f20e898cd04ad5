;; The weighted mean of weightedMean (kernels.ts) over a chunk of float32
;; values in linear memory, 4 values at a time (WebAssembly SIMD). The source
;; of mean-kernel.wasm.ts: regenerate that file with
;; `node --import tsx tools/wasm/build-kernels.ts` after an edit.
;;
;; It does the float64 operations of meanIntoJs in kernels.ts, in the same
;; order: every float32 value is widened exactly, each product and sum is one
;; correctly rounded float64 operation, and the sum is rounded to float32 once
;; (roundTiesToEven, as a Float32Array store rounds). So the two agree bit for
;; bit; the `0 +` of the first term turns −0 into +0 as the JS does.
;;
;;   first: acc ← 0 + w·a          (float64 acc)
;;   add:   acc ← acc + w·a
;;   last:  dst ← f32(acc + w·a)
;;   only:  dst ← f32(0 + w·a)     (a mean of one update)
;;
;; $acc is the byte offset of float64 values, $a and $dst of float32 values,
;; all 16-aligned. The loops run to $n rounded up to 4: the caller leaves room
;; for that and never reads the values past $n. Per 4 values the float32 lanes
;; 2 and 3 are shuffled down to be widened (f64x2.promote_low_f32x4 takes lanes
;; 0 and 1), and two float64x2 results are demoted and packed into one
;; float32x4; written out in each loop, as a call there costs as much as the
;; arithmetic (V8 does not inline wasm calls).
(module
  (import "env" "memory" (memory 1))

  (func (export "first") (param $n i32) (param $acc i32) (param $a i32) (param $w f64)
    (local $i i32) (local $end i32) (local $vw v128) (local $x v128) (local $p i32)
    (local.set $vw (f64x2.splat (local.get $w)))
    (local.set $end (i32.and (i32.add (i32.shl (local.get $n) (i32.const 2)) (i32.const 15)) (i32.const -16)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $x (v128.load (i32.add (local.get $a) (local.get $i))))
        (local.set $p (i32.add (local.get $acc) (i32.shl (local.get $i) (i32.const 1))))
        (v128.store (local.get $p)
          (f64x2.add (f64x2.splat (f64.const 0)) (f64x2.mul (local.get $vw) (f64x2.promote_low_f32x4 (local.get $x)))))
        (v128.store offset=16 (local.get $p)
          (f64x2.add (f64x2.splat (f64.const 0)) (f64x2.mul (local.get $vw) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $x) (local.get $x))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))

  (func (export "add") (param $n i32) (param $acc i32) (param $a i32) (param $w f64)
    (local $i i32) (local $end i32) (local $vw v128) (local $x v128) (local $p i32)
    (local.set $vw (f64x2.splat (local.get $w)))
    (local.set $end (i32.and (i32.add (i32.shl (local.get $n) (i32.const 2)) (i32.const 15)) (i32.const -16)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $x (v128.load (i32.add (local.get $a) (local.get $i))))
        (local.set $p (i32.add (local.get $acc) (i32.shl (local.get $i) (i32.const 1))))
        (v128.store (local.get $p)
          (f64x2.add (v128.load (local.get $p)) (f64x2.mul (local.get $vw) (f64x2.promote_low_f32x4 (local.get $x)))))
        (v128.store offset=16 (local.get $p)
          (f64x2.add (v128.load offset=16 (local.get $p)) (f64x2.mul (local.get $vw) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $x) (local.get $x))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))

  (func (export "last") (param $n i32) (param $dst i32) (param $acc i32) (param $a i32) (param $w f64)
    (local $i i32) (local $end i32) (local $vw v128) (local $x v128) (local $p i32)
    (local.set $vw (f64x2.splat (local.get $w)))
    (local.set $end (i32.and (i32.add (i32.shl (local.get $n) (i32.const 2)) (i32.const 15)) (i32.const -16)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $x (v128.load (i32.add (local.get $a) (local.get $i))))
        (local.set $p (i32.add (local.get $acc) (i32.shl (local.get $i) (i32.const 1))))
        (v128.store (i32.add (local.get $dst) (local.get $i))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (f64x2.add (v128.load (local.get $p)) (f64x2.mul (local.get $vw) (f64x2.promote_low_f32x4 (local.get $x))))) (f32x4.demote_f64x2_zero (f64x2.add (v128.load offset=16 (local.get $p)) (f64x2.mul (local.get $vw) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $x) (local.get $x))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))

  (func (export "only") (param $n i32) (param $dst i32) (param $a i32) (param $w f64)
    (local $i i32) (local $end i32) (local $vw v128) (local $x v128)
    (local.set $vw (f64x2.splat (local.get $w)))
    (local.set $end (i32.and (i32.add (i32.shl (local.get $n) (i32.const 2)) (i32.const 15)) (i32.const -16)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $x (v128.load (i32.add (local.get $a) (local.get $i))))
        (v128.store (i32.add (local.get $dst) (local.get $i))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (f64x2.add (f64x2.splat (f64.const 0)) (f64x2.mul (local.get $vw) (f64x2.promote_low_f32x4 (local.get $x))))) (f32x4.demote_f64x2_zero (f64x2.add (f64x2.splat (f64.const 0)) (f64x2.mul (local.get $vw) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $x) (local.get $x))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))))
