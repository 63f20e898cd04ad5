;; One Adam step over a chunk of float32 values in linear memory, 4 lanes at a
;; time (WebAssembly SIMD). The source of adam-kernel.wasm.ts: regenerate that
;; file with `node --import tsx tools/wasm/build-kernels.ts` after an edit.
;;
;; It does exactly the float32 operations of adamTensorJs in adam-kernel.ts,
;; in the same order. IEEE-754 float32 add, mul, div and sqrt are correctly
;; rounded, and float64 has more than 2·24 + 2 bits, so Math.fround of the
;; float64 result (what the JS does) equals the float32 result (what this
;; does), bit for bit; denormals included, as WebAssembly SIMD does not flush.
;;
;;   m ← m·β1 + g·(1−β1)
;;   v ← v·β2 + (g·g)·(1−β2)
;;   w ← ((m / corr1) / (sqrt(v / corr2) + ε)) · (−lr) + w
;;
;; $w, $g, $m, $v are byte offsets of 16-aligned arrays of $n float32 values
;; in the imported memory. The loop runs to $n rounded up to 4: the caller
;; leaves room for that and never reads the values past $n.
(module
  (import "env" "memory" (memory 1))
  (func (export "adam")
    (param $n i32) (param $w i32) (param $g i32) (param $m i32) (param $v i32)
    (param $b1 f32) (param $b2 f32) (param $omb1 f32) (param $omb2 f32)
    (param $corr1 f32) (param $corr2 f32) (param $eps f32) (param $negLr f32)
    (local $i i32) (local $end i32)
    (local $vb1 v128) (local $vb2 v128) (local $vomb1 v128) (local $vomb2 v128)
    (local $vc1 v128) (local $vc2 v128) (local $veps v128) (local $vlr v128)
    (local $gi v128) (local $mi v128) (local $vi v128)
    (local.set $vb1 (f32x4.splat (local.get $b1)))
    (local.set $vb2 (f32x4.splat (local.get $b2)))
    (local.set $vomb1 (f32x4.splat (local.get $omb1)))
    (local.set $vomb2 (f32x4.splat (local.get $omb2)))
    (local.set $vc1 (f32x4.splat (local.get $corr1)))
    (local.set $vc2 (f32x4.splat (local.get $corr2)))
    (local.set $veps (f32x4.splat (local.get $eps)))
    (local.set $vlr (f32x4.splat (local.get $negLr)))
    ;; bytes to walk: 4 × $n rounded up to 16
    (local.set $end (i32.and (i32.add (i32.shl (local.get $n) (i32.const 2)) (i32.const 15)) (i32.const -16)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $gi (v128.load (i32.add (local.get $g) (local.get $i))))
        ;; m·β1 + g·(1−β1)
        (local.set $mi
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $i))) (local.get $vb1))
            (f32x4.mul (local.get $gi) (local.get $vomb1))))
        ;; v·β2 + (g·g)·(1−β2)
        (local.set $vi
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $i))) (local.get $vb2))
            (f32x4.mul (f32x4.mul (local.get $gi) (local.get $gi)) (local.get $vomb2))))
        (v128.store (i32.add (local.get $m) (local.get $i)) (local.get $mi))
        (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $vi))
        ;; ((m / corr1) / (sqrt(v / corr2) + ε)) · (−lr) + w
        (v128.store (i32.add (local.get $w) (local.get $i))
          (f32x4.add
            (f32x4.mul
              (f32x4.div
                (f32x4.div (local.get $mi) (local.get $vc1))
                (f32x4.add (f32x4.sqrt (f32x4.div (local.get $vi) (local.get $vc2))) (local.get $veps)))
              (local.get $vlr))
            (v128.load (i32.add (local.get $w) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))))
