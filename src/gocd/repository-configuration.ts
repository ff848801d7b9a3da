import { defineBodylessHandler } from './define-handler';
import { REPOSITORY_PROPERTIES } from './properties';

/** Asked once at plugin load; a failure here unloads the plugin until GoCD restarts. */
export const repositoryConfiguration = defineBodylessHandler(() => REPOSITORY_PROPERTIES);
