import { setupStepIds, setupStepTitles, type SetupStepId } from '../../../electron/contract/setup';

/** A setup step's section heading, numbered as the step list numbers it, so the Setup page counts 1, 2, 3… with no gap. */
export const stepHeading = (id: SetupStepId): string => `${setupStepIds.indexOf(id) + 1}. ${setupStepTitles[id]}`;
