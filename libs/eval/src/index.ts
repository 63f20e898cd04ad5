export {
  MNIST_CLASSES,
  MNIST_CNN_FEATURES,
  MNIST_CNN_SPECS,
  mnistCnnFeatures,
  mnistCnnLogits,
  inferenceOps,
  type MnistCnnOps,
  type MnistCnnParams,
} from './classifier/mnist-cnn.model';
export { decodeWeights, encodeWeights, type WeightsFile } from './classifier/weights-codec';
