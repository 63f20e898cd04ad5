export { quality2d, BALANCED_SHARE, HQ_SIGMAS, type Quality2d } from './quality2d';
export { mmd2, medianBandwidth } from './mmd';
export { featureFrechetDistance, frechetFromStats, gaussianStats, type GaussianStats } from './frechet';
export { meanAndCovariance, symmetricEigen, type SquareMatrix } from './linalg';
export {
  inferenceOps,
  MNIST_CLASSES,
  MNIST_CNN_FEATURES,
  MNIST_CNN_SPECS,
  mnistCnnFeatures,
  mnistCnnLogits,
  type MnistCnnOps,
  type MnistCnnParams,
} from './classifier/mnist-cnn.model';
export { decodeWeights, encodeWeights, type WeightsFile } from './classifier/weights-codec';
export { scoreFromProbs } from './classifier/classifier-score';
export {
  classifierFeatureStats,
  classifierOutputs,
  classifierPredict,
  classifierScore,
  disposeMnistClassifier,
  frechetDistance,
  loadMnistClassifier,
  type ClassifierOutputs,
  type MnistClassifier,
} from './classifier/mnist-classifier';
