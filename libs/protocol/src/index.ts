export * from './frames';
export { DEFAULT_LIMITS, resolveLimits, type ProtocolLimits } from './limits';
export { CloseCodes, ERROR_POLICIES, closeCodeFor, closeReason, errorFrameFor, policyFor, toDuelError, type ErrorPolicy } from './error-policy';
export { validateFrame, type Layout, type ValidationContext } from './validate';
export {
  decodeFrame,
  decodeFrameDetailed,
  encodeFrame,
  encodeWeightsOnce,
  FLAG_TENSORS,
  FRAME_MAGIC,
  FRAME_PREFIX_BYTES,
  TENSOR_FIELDS,
  WeightsBroadcastCache,
  BufferLeases,
  FramePool,
  encodeFrameInto,
  type DecodedFrame,
  type EncodableFrame,
  type EncodedWeights,
} from './codec';
export * from './codecs/codec-spec';
export { CODEC_DTYPE, decodeTensorInto, decodeTensors, encodeTensor, encodeTensors } from './codecs/coded-tensors';
export { compressWithFeedback, zeroResidual, type Residual } from './codecs/error-feedback';
export { decodeFp16, encodeFp16, float16BitsToFloat32, float32ToFloat16Bits, FP16_MAX } from './codecs/fp16.codec';
export { decodeInt8, encodeInt8, INT8_LEVELS, type Int8Encoded } from './codecs/int8.codec';
export { checkTopkIndices, decodeTopk, DEFAULT_TOPK_RATIO, encodeTopk, topkCount, type TopkEncoded } from './codecs/topk.codec';
export { HOST_LITTLE_ENDIAN, TENSOR_ALIGN, type DType, type TensorData, type TensorDescriptor, type WireTensor } from './tensor-section';
export { limitsFor, maxPayloadFor, PAYLOAD_MARGIN_BYTES } from './max-payload';
export { admitFrame, type SessionPhase } from './session';
