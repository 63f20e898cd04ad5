export { weightsDigest } from '@duel/store';
