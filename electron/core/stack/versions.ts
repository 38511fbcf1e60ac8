/**
 * The pinned images, as the modules declare them (electron/contract/stack-modules/): an update of the stack is a
 * change of those declarations. The lab builds its stand-in images under exactly these names and tags, so the real
 * compose file runs unchanged against them.
 */
import { imageModules, pinnedImages, type ImageKey, type PinnedImage } from '../../contract/stack-modules';

export { imageModules, pinnedImages, type ImageKey, type PinnedImage };

export const imageRef = (key: ImageKey): string => {
  const image: PinnedImage = pinnedImages[key];
  return `${image.repository}:${image.tag}`;
};
