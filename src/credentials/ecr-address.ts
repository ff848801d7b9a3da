// Which registry addresses are Amazon ECR private registries, whose password is a token from the ECR API rather than
// anything written in a file. Imports nothing, so the credentials-file checks can use it without the AWS SDK.

/** An ECR private registry, as its address names it. */
export interface EcrRegistry {
  /** The normalized address, `<account>.dkr.ecr.<region>.amazonaws.com`: for messages. */
  readonly host: string;
  /** The 12-digit AWS account id: GetAuthorizationToken's registryIds. */
  readonly account: string;
  readonly region: string;
  /** `dkr.ecr-fips`: the token must come from the ECR API's FIPS endpoint too. */
  readonly isFips: boolean;
}

// `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`: the private-registry URL of the ECR user guide, its FIPS
// form (ECR endpoints and quotas, "FIPS endpoints") and the China partition's domain, as amazon-ecr-credential-helper
// reads them (ecr-login/api/client.go, ecrPattern). The account is the 12-digit id that GetAuthorizationToken's
// registryIds accepts. Not recognised: the dual-stack `dkr-ecr.<region>.on.aws` names and the isolated partitions'
// domains (c2s.ic.gov, sc2s.sgov.gov …); an entry for one of those needs a username and password.
const ECR_HOST = /^(\d{12})\.dkr\.ecr(-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.amazonaws\.com(?:\.cn)?$/;

/** The ECR registry a normalized address (`host[:port]`, lower case) names, or undefined for any other registry. */
export function parseEcrAddress(address: string): EcrRegistry | undefined {
  const match = ECR_HOST.exec(address);
  if (!match) return undefined;
  return { host: address, account: match[1]!, region: match[3]!, isFips: match[2] !== undefined };
}
